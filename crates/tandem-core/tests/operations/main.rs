//! Plan tests of the operations, one file per operation, against a small hand-made schema: `users` (with a
//! CHECK, a two-column UNIQUE, a foreign key, a hash index and a mixed-case column) and the
//! mixed-case table `Orgs`.

mod create_constraint;
mod create_index;
mod drop_constraint;
mod drop_index;
mod drop_multicolumn_constraint;
mod rename_constraint;
mod set_replica_identity;

use tandem_core::schema::{
    Column, Constraint, ConstraintKind, ForeignKeyTarget, Index, Schema, Table,
};
use tandem_core::{plan_migration, Migration, Phase, PlanContext, PlanError, Planned, Step};

fn column(name: &str, data_type: &str, nullable: bool) -> Column {
    Column {
        name: name.into(),
        physical: name.into(),
        data_type: data_type.into(),
        nullable,
        ..Column::default()
    }
}

fn index(name: &str, columns: &[&str], unique: bool, method: &str, constraint: bool) -> Index {
    Index {
        name: name.into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        unique,
        method: method.into(),
        plain: true,
        constraint: constraint.then(|| name.to_string()),
    }
}

fn constraint(name: &str, kind: ConstraintKind, columns: &[&str]) -> Constraint {
    Constraint {
        name: name.into(),
        kind,
        columns: columns.iter().map(|c| c.to_string()).collect(),
        expression: None,
        references: None,
        no_inherit: false,
    }
}

pub fn schema() -> Schema {
    let users = Table {
        name: "users".into(),
        physical: "users".into(),
        columns: vec![
            column("id", "integer", false),
            column("name", "text", false),
            column("email", "text", true),
            column("Mixed", "text", true),
            column("org", "integer", true),
        ],
        primary_key: vec!["id".into()],
        constraints: vec![
            Constraint {
                expression: Some("(email <> ''::text)".into()),
                ..constraint("users_email_check", ConstraintKind::Check, &["email"])
            },
            constraint(
                "users_name_email_key",
                ConstraintKind::Unique,
                &["name", "email"],
            ),
            Constraint {
                references: Some(ForeignKeyTarget {
                    table: "Orgs".into(),
                    columns: vec!["id".into()],
                    on_delete: Some("CASCADE".into()),
                }),
                ..constraint("users_org_fkey", ConstraintKind::ForeignKey, &["org"])
            },
            constraint("users_pkey", ConstraintKind::PrimaryKey, &["id"]),
        ],
        indexes: vec![
            index("users_pkey", &["id"], true, "btree", true),
            index(
                "users_name_email_key",
                &["name", "email"],
                true,
                "btree",
                true,
            ),
            index("users_email_idx", &["email"], false, "hash", false),
        ],
        ..Table::default()
    };
    let orgs = Table {
        name: "Orgs".into(),
        physical: "Orgs".into(),
        columns: vec![
            column("id", "integer", false),
            column("title", "text", true),
        ],
        primary_key: vec!["id".into()],
        ..Table::default()
    };
    Schema {
        name: "public".into(),
        tables: vec![users, orgs],
        types: vec![],
    }
}

/// Plans a migration file's text against [`schema`].
pub fn plan(yaml: &str) -> Result<Planned, PlanError> {
    plan_on(&schema(), yaml)
}

/// Plans a migration file's text against `schema`.
pub fn plan_on(schema: &Schema, yaml: &str) -> Result<Planned, PlanError> {
    let m = Migration::parse("02_change", "02_change.yaml", yaml, false).expect("parses");
    let ctx = PlanContext {
        schema: "public".into(),
        server_version_num: 150000,
        ..PlanContext::default()
    };
    plan_migration(&m, schema, &ctx, Some("public_01".into()))
}

/// The error planning `yaml` gives: its message and help.
pub fn error(yaml: &str) -> (String, String) {
    let e = plan(yaml).expect_err("must not plan");
    (e.message, e.help)
}

/// The step of `phase` described as `description`.
pub fn step<'a>(planned: &'a Planned, phase: Phase, description: &str) -> &'a Step {
    let steps = planned.plan.steps(phase);
    steps
        .iter()
        .find(|s| s.description == description)
        .unwrap_or_else(|| {
            panic!(
                "no {phase} step `{description}` in: {:#?}",
                steps.iter().map(|s| &s.description).collect::<Vec<_>>()
            )
        })
}

/// The descriptions of the steps of `phase`, in order.
pub fn descriptions(planned: &Planned, phase: Phase) -> Vec<&str> {
    planned
        .plan
        .steps(phase)
        .iter()
        .map(|s| s.description.as_str())
        .collect()
}

/// Every statement of `phase`, in order.
pub fn statements(planned: &Planned, phase: Phase) -> Vec<String> {
    planned
        .plan
        .steps(phase)
        .iter()
        .flat_map(|s| s.statements())
        .collect()
}

/// Locks of a step as `MODE schema.table`.
pub fn locks(step: &Step) -> Vec<String> {
    step.locks
        .iter()
        .map(|l| format!("{} {}", l.mode, l.relation))
        .collect()
}
