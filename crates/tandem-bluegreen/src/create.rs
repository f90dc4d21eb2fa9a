//! `tandem bluegreen create`: preconditions, schema copy, migrations on green, replication.

use crate::catalog;
use crate::link;
use crate::mapping::Mapping;
use crate::preconditions::check_preconditions;
use crate::schema_copy;
use crate::sides::{Options, Pair};
use crate::state::{self, State};
use crate::{Error, Progress, Result, Side};
use serde::Serialize;
use std::sync::Arc;
use tandem_core::Migration;
use tandem_pg::{ConnectOptions, Engine, Settings, Silent};

#[derive(Debug, Clone, Serialize)]
pub struct CreateReport {
    /// Statements of the schema copy.
    pub schema_statements: usize,
    /// Tables replicated as they are.
    pub direct: Vec<String>,
    /// Blue tables received in staging tables on green and mapped through `up`.
    pub staged: Vec<String>,
    /// What will not come back on switchback, and similar things to know.
    pub warnings: Vec<String>,
}

pub async fn create(
    options: &Options,
    migrations: &[Migration],
    progress: &dyn Progress,
) -> Result<CreateReport> {
    let pair = Pair::connect(options).await?;
    let schema = options.schema.as_str();
    progress.step("checking the preconditions on both sides");
    let problems = check_preconditions(&pair).await?;
    if !problems.is_empty() {
        let what: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.side.name(), p.what))
            .collect();
        let fix: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.side.name(), p.fix))
            .collect();
        return Err(Error::usage(
            format!(
                "{} precondition(s) not met:\n  {}",
                problems.len(),
                what.join("\n  ")
            ),
            fix.join("\n"),
        ));
    }
    progress.step("copying blue's schema to green");
    let schema_statements = schema_copy::copy(&pair.blue, &pair.green, schema).await?;

    let blue_tables = catalog::tables(pair.blue.client(), schema).await?;
    let mut mapping = Mapping::identity(&blue_tables);
    if !migrations.is_empty() {
        let mut engine = Engine::connect(
            &ConnectOptions {
                url: Some(options.green_url.clone()),
            },
            Settings {
                schema: schema.to_string(),
                ..Settings::default()
            },
            Arc::new(Silent),
        )
        .await?;
        for m in migrations {
            progress.step(&format!("applying migration {} to green", m.name));
            let before = catalog::tables(pair.green.client(), schema).await?;
            // The engine validates the whole migration against green before anything runs.
            engine.plan(m).await?;
            let step = Mapping::of_migration(&before, m)?;
            engine.start(m).await?;
            engine.complete().await?;
            mapping = mapping.then(&step)?;
        }
    }
    let green_tables = catalog::tables(pair.green.client(), schema).await?;
    let warnings = check_mapping(&mapping, &blue_tables, &green_tables)?;

    progress.step("preparing green to receive blue's rows");
    state::install(&pair.blue).await?;
    state::install(&pair.green).await?;
    let link = link::plan(&mapping.forward, &blue_tables, &green_tables);
    link::make_passive(&pair.green, schema, &link, &green_tables, None).await?;
    let record = |side: Side| State {
        side,
        active: Side::Blue,
        schema: schema.to_string(),
        mapping: mapping.clone(),
        staging: if side == Side::Green {
            link.staged.iter().map(|s| s.source.name.clone()).collect()
        } else {
            Vec::new()
        },
        parked: if side == Side::Green {
            link.park.clone()
        } else {
            Vec::new()
        },
        verified: None,
        migrations: migrations.iter().map(|m| m.name.clone()).collect(),
    };
    state::save(&pair.blue, &record(Side::Blue)).await?;
    state::save(&pair.green, &record(Side::Green)).await?;

    progress.step("starting replication from blue to green (initial copy by the subscription)");
    link::publish(&pair.blue, Side::Blue, schema).await?;
    link::create_slot(&pair.blue, Side::Blue).await?;
    link::subscribe(&pair.green, &pair.blue, Side::Blue, true).await?;
    Ok(CreateReport {
        schema_statements,
        direct: link.direct,
        staged: link.staged.iter().map(|s| s.source.name.clone()).collect(),
        warnings,
    })
}

/// Checks the mapping against what the migrations really left on green (a `sql` operation
/// can change a table in ways no `up` describes), and lists what switchback cannot restore.
fn check_mapping(
    mapping: &Mapping,
    blue: &[catalog::Table],
    green: &[catalog::Table],
) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    for m in &mapping.forward {
        let Some(target) = &m.target else { continue };
        let Some(g) = green.iter().find(|t| &t.name == target) else {
            return Err(Error::usage(
                format!("after the migrations, green has no table {target} (blue's {} maps to it)", m.source),
                "a `sql` operation probably renamed or dropped it; blue-green needs the change expressed with tandem's operations (rename_table, drop_table, alter_column with up/down)",
            ));
        };
        for c in &m.columns {
            if g.column(&c.target).is_none() {
                return Err(Error::usage(
                    format!("after the migrations, green's table {target} has no column {}", c.target),
                    "a `sql` operation probably changed it; express the change with tandem's operations so its `up` is known",
                ));
            }
        }
        if m.is_identity() {
            if let Some(b) = blue.iter().find(|t| t.name == m.source) {
                if !b.same_shape(g) && g.columns.len() != m.columns.len() {
                    let extra: Vec<&str> = g
                        .replicated_columns()
                        .filter(|c| m.column(&c.name).is_none())
                        .map(|c| c.name.as_str())
                        .collect();
                    if !extra.is_empty() {
                        warnings.push(format!(
                            "green's {target} has column(s) {} that no `up` fills: they keep their defaults",
                            extra.join(", ")
                        ));
                    }
                }
            }
        }
    }
    for m in &mapping.backward {
        let Some(target) = &m.target else {
            warnings.push(format!(
                "green's table {} is new: rows written to it after switchover do not reach blue",
                m.source
            ));
            continue;
        };
        if let Some(b) = blue.iter().find(|t| &t.name == target) {
            for c in b.replicated_columns() {
                if m.column(&c.name).is_none() {
                    warnings.push(format!(
                        "blue's {target}.{} has no `down`: rows green inserts after switchover get its default on blue, and updates leave it as it was",
                        c.name
                    ));
                }
            }
        }
    }
    for m in mapping.forward.iter().filter(|m| m.target.is_none()) {
        warnings.push(format!(
            "blue's table {} has no counterpart on green (dropped by the migration): its rows stay on blue only",
            m.source
        ));
    }
    Ok(warnings)
}
