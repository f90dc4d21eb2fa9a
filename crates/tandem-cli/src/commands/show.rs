//! Results on stdout, for people or (with --json) for programs.

use tandem_core::plan::Phase;
use tandem_core::Plan;
use tandem_pg::{MigrationStatus, Record, Status};

fn json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

pub fn started(status: &Status) {
    if let Some(v) = &status.version_schema {
        println!(
            "migration {} is started",
            status.migration.as_deref().unwrap_or("?")
        );
        println!("  new clients: SET search_path TO {v}");
        match &status.previous_version_schema {
            Some(p) => println!("  old clients: SET search_path TO {p} (until `tandem complete`)"),
            None => println!(
                "  old clients: keep using schema {} directly (until `tandem complete`)",
                status.schema
            ),
        }
    }
}

pub fn status(status: &Status, as_json: bool) {
    if as_json {
        return json(status);
    }
    match (&status.migration, status.status) {
        (Some(m), Some(MigrationStatus::InProgress)) => {
            println!(
                "schema {}: migration {m} in progress ({} {}/{} steps done)",
                status.schema,
                status.phase.map_or("?", Phase::as_str),
                status.steps_done.unwrap_or(0),
                status.steps_total.unwrap_or(0)
            );
            if let Some(v) = &status.version_schema {
                println!("  new clients: search_path = {v}");
            }
            if let Some(p) = &status.previous_version_schema {
                println!("  old clients: search_path = {p}");
            }
        }
        (Some(m), Some(s)) => {
            println!("schema {}: latest migration {m} is {s}", status.schema);
            if let Some(v) = &status.version_schema {
                println!("  clients: search_path = {v}");
            }
        }
        (None, _) | (Some(_), None) => println!("schema {}: no migrations yet", status.schema),
    }
}

pub fn history(history: &[Record], as_json: bool) {
    if as_json {
        return json(&history);
    }
    if history.is_empty() {
        println!("no migrations yet");
    }
    for r in history {
        println!(
            "{:<40} {:<12} started {}{}",
            r.name,
            r.status,
            r.started_at,
            r.completed_at
                .as_ref()
                .map(|c| format!(", completed {c}"))
                .unwrap_or_default()
        );
    }
}

pub fn plan(plan: &Plan, as_json: bool) {
    if as_json {
        return json(plan);
    }
    println!(
        "migration {} on schema {}: new version schema {}{}",
        plan.migration,
        plan.schema,
        plan.version_schema,
        plan.previous_version_schema
            .as_ref()
            .map(|p| format!(", previous {p}"))
            .unwrap_or_default()
    );
    for phase in [Phase::Start, Phase::Complete, Phase::Rollback] {
        let steps = plan.steps(phase);
        println!("\n{phase} ({} steps)", steps.len());
        for (i, step) in steps.iter().enumerate() {
            let locks = if step.locks.is_empty() {
                "no lock on application tables".to_string()
            } else {
                step.locks
                    .iter()
                    .map(|l| format!("{} on {}", l.mode, l.relation))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let tx = if step.transactional {
                ""
            } else {
                ", outside a transaction"
            };
            println!("  {}. {}  [{locks}{tx}]", i + 1, step.description);
            for s in step.statements() {
                println!("       {s};");
            }
        }
    }
}
