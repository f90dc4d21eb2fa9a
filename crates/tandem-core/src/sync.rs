//! Per table, everything that keeps the old and the new version's columns in sync: the new
//! columns and their NOT VALID constraints, the dual-write trigger, the backfill, the
//! verification, the indexes built after the backfill, and their contract and rollback.
//!
//! ## Which version wrote a row
//!
//! 1. An UPDATE that changes only old-version columns is the old version's; one that changes
//!    only new-version columns is the new version's. (Each version's view exposes only its own
//!    columns, so this is exact for writes through the views, and also right for UPDATEs that
//!    go straight to the table.)
//! 2. Otherwise (INSERTs, and UPDATEs that change neither or both sides) the session's
//!    effective search path decides, `current_schemas(false)`, which reflects `SET`,
//!    `SET LOCAL`, and role or database defaults: the write is the new version's when the new
//!    version schema comes before both the old version schema and the table's own schema
//!    (`SET search_path TO public_v2, public` is the new version; `public, public_v2` is not,
//!    since unqualified names then reach the table itself). Every other write is the old
//!    version's.

use crate::expressions::{physical_references, rewrite_physical};
use crate::locks::LockMode;
use crate::names::temp_name;
use crate::operations::OpError;
use crate::plan::{lock, Action, Backfill, Step, Verify};
use crate::quote::{ident, literal, qualified};
use crate::schema::{ConstraintKind, RowCheck, Schema, Table};

/// The steps of one table's synced columns, by the place they take in the plan.
#[derive(Default)]
pub(crate) struct TableSteps {
    pub start: Vec<Step>,
    pub backfill: Vec<Step>,
    pub verify: Vec<Step>,
    pub after_backfill: Vec<Step>,
    pub complete: Vec<Step>,
    pub teardown: Vec<Step>,
    pub contract: Vec<Step>,
    pub finalize: Vec<Step>,
    pub rollback_first: Vec<Step>,
    pub rollback: Vec<Step>,
}

pub(crate) struct Versions<'a> {
    pub schema: &'a str,
    pub new: &'a str,
    pub previous: Option<&'a str>,
}

const TRIGGER: &str = "_tandem_sync";

fn nn_name(column: &str) -> String {
    temp_name("nn", column)
}

/// The steps for `table` (as the planner leaves it: logical names are final, physical names
/// are those at start).
pub(crate) fn generate(
    schema: &Schema,
    table: &Table,
    v: &Versions,
) -> Result<TableSteps, OpError> {
    let mut out = TableSteps::default();
    if table.sync.is_empty() {
        return Ok(out);
    }
    let s = v.schema;
    let rel = qualified(s, &table.physical);
    let final_rel = qualified(s, &table.name);
    let function = qualified(s, &temp_name("sync", &table.physical));
    // Every new column is added before any constraint: one may span several of them.
    let mut add_columns = Vec::new();
    let mut statements = Vec::new();
    let mut locks = vec![lock(s, &table.physical, LockMode::AccessExclusive)];
    let mut assignments = Vec::new();
    let mut checks = Vec::new();

    for sync in &table.sync {
        let (Some(new), Some(spec)) = (&sync.new_physical, &sync.new_column) else {
            if let (Some(old), None) = (&sync.old_physical, &sync.new_physical) {
                out.contract.push(Step::sql(
                    format!("drop the column {}.{old}", table.name),
                    vec![format!(
                        "ALTER TABLE {rel} DROP COLUMN IF EXISTS {}",
                        ident(old)
                    )],
                    vec![],
                ));
            }
            continue;
        };
        let col = ident(new);
        add_columns.push(format!(
            "ALTER TABLE {rel} ADD COLUMN {col} {}",
            spec.data_type
        ));
        if let Some(d) = &spec.default {
            // Set apart from ADD COLUMN: a volatile default there would rewrite the table.
            statements.push(format!(
                "ALTER TABLE {rel} ALTER COLUMN {col} SET DEFAULT {d}"
            ));
        }
        if let Some(c) = &spec.comment {
            statements.push(format!("COMMENT ON COLUMN {rel}.{col} IS {}", literal(c)));
        }
        if spec.not_null {
            let nn = nn_name(new);
            statements.push(format!(
                "ALTER TABLE {rel} ADD CONSTRAINT {} CHECK ({col} IS NOT NULL) NOT VALID",
                ident(&nn)
            ));
            out.complete.push(validate(s, &table.physical, &nn, None));
            out.contract.push(Step::sql(
                format!(
                    "make {}.{} NOT NULL (its CHECK is validated, so no scan)",
                    table.name, new
                ),
                vec![
                    format!("ALTER TABLE {rel} ALTER COLUMN {col} SET NOT NULL"),
                    format!("ALTER TABLE {rel} DROP CONSTRAINT {}", ident(&nn)),
                ],
                vec![lock(s, &table.physical, LockMode::AccessExclusive)],
            ));
            checks.push(RowCheck {
                description: format!("{new} is not null"),
                condition: format!("{col} IS NOT NULL"),
                if_immutable: None,
            });
        }
        for c in &spec.checks {
            statements.push(format!(
                "ALTER TABLE {rel} ADD CONSTRAINT {} CHECK ({}) NOT VALID",
                ident(&c.name),
                c.expression
            ));
            out.complete
                .push(validate(s, &table.physical, &c.name, None));
            if c.name != c.final_name {
                out.finalize.push(Step::sql(
                    format!("give constraint {} its name back", c.final_name),
                    vec![format!(
                        "ALTER TABLE {final_rel} RENAME CONSTRAINT {} TO {}",
                        ident(&c.name),
                        ident(&c.final_name)
                    )],
                    vec![lock(s, &table.name, LockMode::AccessExclusive)],
                ));
            }
            checks.push(RowCheck {
                description: format!("check {}", c.final_name),
                condition: format!("({}) IS NOT FALSE", c.expression),
                if_immutable: None,
            });
        }
        for fk in &spec.foreign_keys {
            let action = fk
                .on_delete
                .as_ref()
                .map(|a| format!(" ON DELETE {a}"))
                .unwrap_or_default();
            statements.push(format!(
                "ALTER TABLE {rel} ADD CONSTRAINT {} FOREIGN KEY ({col}) REFERENCES {} ({}){action} NOT VALID",
                ident(&fk.name),
                qualified(s, &fk.table),
                ident(&fk.column)
            ));
            locks.push(lock(s, &fk.table, LockMode::ShareRowExclusive));
            out.complete
                .push(validate(s, &table.physical, &fk.name, Some(&fk.table)));
            checks.push(RowCheck {
                description: format!("foreign key {}", fk.name),
                condition: format!(
                    "_tandem_row.{col} IS NULL OR EXISTS (SELECT 1 FROM {} AS _tandem_ref WHERE _tandem_ref.{} = _tandem_row.{col})",
                    qualified(s, &fk.table),
                    ident(&fk.column)
                ),
                if_immutable: None,
            });
        }
        for name in &spec.unique {
            out.after_backfill.push(concurrent_index(
                s,
                &table.physical,
                name,
                true,
                "btree",
                std::slice::from_ref(new),
            ));
            out.finalize.push(Step::sql(
                format!("attach the unique index {name} as a constraint"),
                vec![format!(
                    "ALTER TABLE {final_rel} ADD CONSTRAINT {} UNIQUE USING INDEX {}",
                    ident(name),
                    ident(name)
                )],
                vec![lock(s, &table.name, LockMode::AccessExclusive)],
            ));
        }
        for ix in &spec.indexes {
            out.after_backfill.push(concurrent_index(
                s,
                &table.physical,
                &ix.name,
                ix.unique,
                &ix.method,
                &ix.columns,
            ));
            out.finalize.push(match &ix.constraint {
                Some(constraint) => Step::sql(
                    format!("attach index {} as constraint {constraint}", ix.name),
                    vec![format!(
                        "ALTER TABLE {final_rel} ADD CONSTRAINT {} UNIQUE USING INDEX {}",
                        ident(constraint),
                        ident(&ix.name)
                    )],
                    vec![lock(s, &table.name, LockMode::AccessExclusive)],
                ),
                None => Step::sql(
                    format!("give index {} its name back", ix.final_name),
                    vec![format!(
                        "ALTER INDEX {} RENAME TO {}",
                        qualified(s, &ix.name),
                        ident(&ix.final_name)
                    )],
                    vec![lock(s, &table.name, LockMode::ShareUpdateExclusive)],
                ),
            });
        }
        if let Some(up) = &sync.up {
            assignments.push((new.clone(), up.clone()));
            if sync.old_physical.is_some() {
                checks.push(RowCheck {
                    description: format!("{new} equals `up` of the old column"),
                    condition: format!("{col} IS NOT DISTINCT FROM ({up})"),
                    if_immutable: Some(up.clone()),
                });
            }
        }
        if let Some(old) = &sync.old_physical {
            out.contract.push(Step::sql(
                format!("drop the old column {}.{old}", table.name),
                vec![format!("ALTER TABLE {rel} DROP COLUMN {}", ident(old))],
                vec![lock(s, &table.physical, LockMode::AccessExclusive)],
            ));
        }
        out.rollback.push(Step::sql(
            format!("drop the new column {}.{new}", table.name),
            vec![format!(
                "ALTER TABLE IF EXISTS {rel} DROP COLUMN IF EXISTS {col}"
            )],
            vec![lock(s, &table.physical, LockMode::AccessExclusive)],
        ));
    }

    for c in &table.new_constraints {
        let cols = c
            .columns
            .iter()
            .map(|k| ident(k))
            .collect::<Vec<_>>()
            .join(", ");
        match c.kind {
            ConstraintKind::Check => {
                let expr = c.expression.clone().unwrap_or_else(|| "true".into());
                statements.push(format!(
                    "ALTER TABLE {rel} ADD CONSTRAINT {} CHECK ({expr}) NOT VALID",
                    ident(&c.name)
                ));
                out.complete
                    .push(validate(s, &table.physical, &c.name, None));
                checks.push(RowCheck {
                    description: format!("check {}", c.name),
                    condition: format!("({expr}) IS NOT FALSE"),
                    if_immutable: None,
                });
            }
            ConstraintKind::ForeignKey => {
                if let Some((target, target_cols, on_delete)) = &c.references {
                    let action = on_delete
                        .as_ref()
                        .map(|a| format!(" ON DELETE {a}"))
                        .unwrap_or_default();
                    statements.push(format!(
                        "ALTER TABLE {rel} ADD CONSTRAINT {} FOREIGN KEY ({cols}) REFERENCES {} ({}){action} NOT VALID",
                        ident(&c.name),
                        qualified(s, target),
                        target_cols.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", ")
                    ));
                    locks.push(lock(s, target, LockMode::ShareRowExclusive));
                    out.complete
                        .push(validate(s, &table.physical, &c.name, Some(target)));
                    if let Some(final_name) = c.final_name.as_ref().filter(|f| **f != c.name) {
                        out.finalize.push(Step::sql(
                            format!("give constraint {final_name} its name back"),
                            vec![format!(
                                "ALTER TABLE {final_rel} RENAME CONSTRAINT {} TO {}",
                                ident(&c.name),
                                ident(final_name)
                            )],
                            vec![lock(s, &table.name, LockMode::AccessExclusive)],
                        ));
                    }
                }
            }
            ConstraintKind::Unique | ConstraintKind::PrimaryKey => {
                let mut step =
                    concurrent_index(s, &table.physical, &c.name, true, "btree", &c.columns);
                if c.nulls_not_distinct {
                    if let Action::Sql { statements } = &mut step.action {
                        if let Some(create) = statements.last_mut() {
                            // NULLS NOT DISTINCT goes after the column list.
                            create.push_str(" NULLS NOT DISTINCT");
                        }
                    }
                }
                out.after_backfill.push(step);
                let what = if c.kind == ConstraintKind::Unique {
                    "UNIQUE"
                } else {
                    "PRIMARY KEY"
                };
                out.finalize.push(Step::sql(
                    format!("attach the index {} as a {what} constraint", c.name),
                    vec![format!(
                        "ALTER TABLE {final_rel} ADD CONSTRAINT {} {what} USING INDEX {}",
                        ident(&c.name),
                        ident(&c.name)
                    )],
                    vec![lock(s, &table.name, LockMode::AccessExclusive)],
                ));
            }
            _ => {}
        }
    }

    add_columns.extend(statements);
    let mut statements = add_columns;
    statements.extend(trigger(schema, table, v, &function)?);
    out.start.push(Step::sql(
        format!(
            "add the new version's columns of {} and the dual-write trigger",
            table.name
        ),
        statements,
        locks,
    ));
    if !assignments.is_empty() {
        out.backfill.push(Step {
            description: format!("backfill {}", table.name),
            action: Action::Backfill(Backfill {
                schema: s.to_string(),
                table: table.physical.clone(),
                assignments,
            }),
            locks: vec![lock(s, &table.physical, LockMode::RowExclusive)],
            transactional: false,
            needs_start_steps: None,
        });
    }
    if !checks.is_empty() {
        out.verify.push(Step {
            description: format!("verify every row of {}", table.name),
            action: Action::Verify(Verify {
                schema: s.to_string(),
                table: table.physical.clone(),
                checks,
            }),
            locks: vec![lock(s, &table.physical, LockMode::AccessShare)],
            transactional: false,
            needs_start_steps: None,
        });
    }
    // The trigger goes in the same transaction as the columns it fills: in between, a write
    // would meet a NOT NULL check (or an old NOT NULL column) that nothing fills any more.
    let drop_trigger = vec![
        format!("DROP TRIGGER IF EXISTS {} ON {rel}", ident(TRIGGER)),
        format!("DROP FUNCTION IF EXISTS {function}()"),
    ];
    let mut teardown = drop_trigger.clone();
    teardown.extend(
        std::mem::take(&mut out.contract)
            .into_iter()
            .flat_map(|step| step.statements()),
    );
    out.teardown.push(Step::sql(
        format!(
            "drop the dual-write trigger of {} with the old columns",
            table.name
        ),
        teardown,
        vec![lock(s, &table.physical, LockMode::AccessExclusive)],
    ));
    let mut rollback = drop_trigger;
    rollback.extend(
        std::mem::take(&mut out.rollback)
            .into_iter()
            .flat_map(|step| step.statements()),
    );
    out.rollback_first.push(Step::sql(
        format!(
            "drop the dual-write trigger of {} with the new columns",
            table.name
        ),
        rollback,
        vec![lock(s, &table.physical, LockMode::AccessExclusive)],
    ));
    Ok(out)
}

fn validate(schema: &str, table: &str, constraint: &str, referenced: Option<&str>) -> Step {
    let mut locks = vec![lock(schema, table, LockMode::ShareUpdateExclusive)];
    if let Some(r) = referenced {
        locks.push(lock(schema, r, LockMode::RowShare));
    }
    Step::sql(
        format!("validate constraint {constraint}"),
        vec![format!(
            "ALTER TABLE {} VALIDATE CONSTRAINT {}",
            qualified(schema, table),
            ident(constraint)
        )],
        locks,
    )
}

fn concurrent_index(
    schema: &str,
    table: &str,
    name: &str,
    unique: bool,
    method: &str,
    columns: &[String],
) -> Step {
    Step::sql(
        format!("build index {name} without blocking writes"),
        vec![
            format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {}",
                qualified(schema, name)
            ),
            format!(
                "CREATE {}INDEX CONCURRENTLY {} ON {} USING {} ({})",
                if unique { "UNIQUE " } else { "" },
                ident(name),
                qualified(schema, table),
                ident(method),
                columns
                    .iter()
                    .map(|c| ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ],
        vec![lock(schema, table, LockMode::ShareUpdateExclusive)],
    )
    .non_transactional()
}

/// `CREATE FUNCTION` and `CREATE TRIGGER` of the table's dual-write trigger.
fn trigger(
    schema: &Schema,
    table: &Table,
    v: &Versions,
    function: &str,
) -> Result<Vec<String>, OpError> {
    let qualify =
        |expr: &str| rewrite_physical(expr, schema, table, |p| Some(format!("NEW.{}", ident(p))));
    let when_changed = |expr: &str| -> Result<String, OpError> {
        let refs = physical_references(expr, schema, table)?;
        if refs.is_empty() {
            return Ok("TG_OP = 'INSERT'".into());
        }
        let new: Vec<String> = refs.iter().map(|r| format!("NEW.{}", ident(r))).collect();
        let old: Vec<String> = refs.iter().map(|r| format!("OLD.{}", ident(r))).collect();
        Ok(format!(
            "TG_OP = 'INSERT' OR ROW({}) IS DISTINCT FROM ROW({})",
            new.join(", "),
            old.join(", ")
        ))
    };
    let mut from_new = Vec::new();
    let mut from_old = Vec::new();
    for sync in &table.sync {
        push_assignment(
            &mut from_new,
            sync.old_physical.as_deref(),
            sync.down.as_deref(),
            &qualify,
            &when_changed,
            false,
        )?;
        if sync.new_column.is_some() {
            // Also while the new column is still NULL: an old-version update may reach a row
            // the backfill has not, without changing what `up` reads.
            push_assignment(
                &mut from_old,
                sync.new_physical.as_deref(),
                sync.up.as_deref(),
                &qualify,
                &when_changed,
                true,
            )?;
        }
    }
    let old_positions = match v.previous {
        Some(p) => format!(
            "least(array_position(_tandem_path, {}::name), array_position(_tandem_path, {}::name))",
            literal(p),
            literal(v.schema)
        ),
        None => format!("array_position(_tandem_path, {}::name)", literal(v.schema)),
    };
    let changed = |cols: &[&str]| -> String {
        if cols.is_empty() {
            return "false".into();
        }
        let new: Vec<String> = cols.iter().map(|c| format!("NEW.{}", ident(c))).collect();
        let old: Vec<String> = cols.iter().map(|c| format!("OLD.{}", ident(c))).collect();
        format!(
            "ROW({}) IS DISTINCT FROM ROW({})",
            new.join(", "),
            old.join(", ")
        )
    };
    let old_side: Vec<&str> = table
        .sync
        .iter()
        .filter_map(|s| s.old_physical.as_deref())
        .collect();
    let new_side: Vec<&str> = table
        .sync
        .iter()
        .filter(|s| s.new_column.is_some())
        .filter_map(|s| s.new_physical.as_deref())
        .collect();
    let body = format!(
        "\nDECLARE\n  _tandem_path name[] := current_schemas(false);\n  _tandem_new integer := array_position(_tandem_path, {}::name);\n  _tandem_old integer := {old_positions};\n  _tandem_old_changed boolean := TG_OP = 'UPDATE' AND ({});\n  _tandem_new_changed boolean := TG_OP = 'UPDATE' AND ({});\n  _tandem_is_new boolean;\nBEGIN\n  IF _tandem_old_changed AND NOT _tandem_new_changed THEN\n    _tandem_is_new := false;\n  ELSIF _tandem_new_changed AND NOT _tandem_old_changed THEN\n    _tandem_is_new := true;\n  ELSE\n    -- the new version wrote the row when its schema comes first in the search path\n    _tandem_is_new := _tandem_new IS NOT NULL AND (_tandem_old IS NULL OR _tandem_new < _tandem_old);\n  END IF;\n  IF _tandem_is_new THEN\n{}  ELSE\n{}  END IF;\n  RETURN NEW;\nEND\n",
        literal(v.new),
        changed(&old_side),
        changed(&new_side),
        if from_new.is_empty() { "    NULL;\n".to_string() } else { from_new.concat() },
        if from_old.is_empty() { "    NULL;\n".to_string() } else { from_old.concat() },
    );
    let mut tag = "$tandem$".to_string();
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$tandem{n}$");
    }
    Ok(vec![
        format!("CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS {tag}{body}{tag}"),
        format!(
            "CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {} FOR EACH ROW WHEN (current_setting('tandem.backfill', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION {function}()",
            ident(TRIGGER),
            qualified(v.schema, &table.physical)
        ),
    ])
}

fn push_assignment(
    out: &mut Vec<String>,
    target: Option<&str>,
    expr: Option<&str>,
    qualify: &dyn Fn(&str) -> Result<String, OpError>,
    when_changed: &dyn Fn(&str) -> Result<String, OpError>,
    or_while_null: bool,
) -> Result<(), OpError> {
    if let (Some(target), Some(expr)) = (target, expr) {
        let null = if or_while_null {
            format!(" OR NEW.{} IS NULL", ident(target))
        } else {
            String::new()
        };
        out.push(format!(
            "    IF {}{null} THEN\n      NEW.{} := {};\n    END IF;\n",
            when_changed(expr)?,
            ident(target),
            qualify(expr)?
        ));
    }
    Ok(())
}
