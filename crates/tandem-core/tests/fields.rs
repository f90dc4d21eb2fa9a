//! Every field of the migration format is honoured or refused, never dropped (issue 8, point
//! 12): each operation is written with every optional field set to a value that can be
//! recognised, planned, and every field's value must then appear in the plan (the SQL, the
//! probes the server checks), or the plan must be refused naming that field.

use serde_json::Value;
use tandem_core::schema::{Column, Schema, Table};
use tandem_core::{plan_migration, Migration, PlanContext};

fn column(name: &str, data_type: &str) -> Column {
    Column {
        name: name.into(),
        physical: name.into(),
        data_type: data_type.into(),
        nullable: true,
        ..Column::default()
    }
}

fn schema() -> Schema {
    let table = |name: &str, columns: Vec<Column>| Table {
        name: name.into(),
        physical: name.into(),
        columns,
        primary_key: vec!["id".into()],
        ..Table::default()
    };
    Schema {
        name: "public".into(),
        tables: vec![
            table(
                "users",
                vec![
                    column("id", "integer"),
                    column("name", "text"),
                    column("email", "text"),
                    column("team_id", "integer"),
                ],
            ),
            table(
                "teams",
                vec![column("id", "integer"), column("tag", "text")],
            ),
        ],
        types: vec![],
    }
}

/// The SQL keyword a `true` boolean field must bring into the plan.
fn keyword_of(field: &str) -> Option<&'static str> {
    Some(match field {
        "no_inherit" => "NO INHERIT",
        "nulls_not_distinct" => "NULLS NOT DISTINCT",
        "deferrable" => "DEFERRABLE",
        "initially_deferred" => "INITIALLY DEFERRED",
        "unique" => "UNIQUE",
        "unlogged" => "UNLOGGED",
        "pk" => "PRIMARY KEY",
        _ => return None,
    })
}

/// Every leaf of `value` as (field path, field name, expected text).
fn leaves(path: &str, key: &str, value: &Value, out: &mut Vec<(String, String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                leaves(&format!("{path}.{k}"), k, v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaves(&format!("{path}[{i}]"), key, v, out);
            }
        }
        Value::String(s) => out.push((path.into(), key.into(), s.clone())),
        Value::Number(n) => out.push((path.into(), key.into(), n.to_string())),
        // `nullable: true` is the absence of NOT NULL: nothing to find.
        Value::Bool(true) if key == "nullable" => {}
        Value::Bool(true) => {
            let expected = keyword_of(key).unwrap_or_else(|| {
                panic!("{path}: say which SQL keyword `{key}: true` must bring")
            });
            out.push((path.into(), key.into(), expected.into()));
        }
        Value::Bool(false) if key == "nullable" => {
            out.push((path.into(), key.into(), "NOT NULL".into()))
        }
        Value::Bool(false) | Value::Null => {}
    }
}

/// The marker a value must leave in the plan: expressions are rewritten (identifiers quoted),
/// so for them the test looks for the literal marker they carry.
fn marker(value: &str) -> String {
    match value.split('\'').nth(1) {
        Some(quoted) if value.contains('\'') => quoted.to_string(),
        _ => value.to_string(),
    }
}

fn assert_every_field_honoured(yaml: &str) {
    let m = Migration::parse("02_fields", "02_fields.yaml", yaml, false).expect("parses");
    let ctx = PlanContext {
        schema: "public".into(),
        server_version_num: 160000,
        ..PlanContext::default()
    };
    let planned = plan_migration(&m, &schema(), &ctx, None);
    let serialised = serde_json::to_value(&m.operations).expect("serialises");
    let mut fields = Vec::new();
    leaves("operations", "", &serialised, &mut fields);
    assert!(fields.len() > 3, "{yaml}: the operation has its fields set");
    match planned {
        Ok(planned) => {
            // The steps, and the expressions the server checks at validate.
            let text = format!("{:?} {:?}", planned.plan, planned.probes).replace("\\\"", "\"");
            let upper = text.to_uppercase();
            for (path, _, expected) in fields {
                let marker = marker(&expected);
                assert!(
                    // Keyword values (`foreign_key`) appear as SQL (`FOREIGN KEY`).
                    text.contains(&marker)
                        || upper.contains(&marker.to_uppercase())
                        || upper.contains(&marker.to_uppercase().replace('_', " ")),
                    "{path} = `{expected}` was dropped: it appears nowhere in the plan\n{yaml}"
                );
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                fields
                    .iter()
                    .any(|(_, key, _)| !key.is_empty() && message.contains(key.as_str())),
                "a refusal names the field it refuses: {message}"
            );
        }
    }
}

#[test]
fn alter_column_keeps_every_field() {
    assert_every_field_honoured(
        r#"operations:
  - alter_column:
      table: users
      column: team_id
      type: bigint
      up: "team_id + length('zq_up')"
      down: "team_id - length('zq_down')"
      nullable: false
      default: "length('zq_default')"
      comment: zq_comment
      check: {name: zq_check, constraint: "team_id > length('zq_check_expr')", no_inherit: true}
      unique: {name: zq_unique}
      references: {name: zq_fk, table: teams, column: id, on_delete: CASCADE, on_update: SET NULL, match_type: FULL, deferrable: true, initially_deferred: true}
"#,
    );
}

#[test]
fn add_column_keeps_every_field() {
    for up in ["", "      up: \"length('zq_up')\"\n"] {
        assert_every_field_honoured(&format!(
            r#"operations:
  - add_column:
      table: users
      column:
        name: zq_col
        type: integer
        nullable: false
        default: "7"
        comment: zq_comment
        check: {{name: zq_check, constraint: "zq_col > length('zq_check_expr')", no_inherit: true}}
        references: {{name: zq_fk, table: teams, column: id, on_delete: CASCADE, on_update: RESTRICT, match_type: FULL, deferrable: true, initially_deferred: true}}
{up}"#
        ));
    }
}

#[test]
fn create_constraint_keeps_every_field() {
    assert_every_field_honoured(
        r#"operations:
  - create_constraint:
      table: users
      name: zq_check
      type: check
      columns: [name]
      check: "length(name) > length('zq_expr')"
      no_inherit: true
      up: {name: "name || 'zq_up'"}
      down: {name: "name || 'zq_down'"}
"#,
    );
    assert_every_field_honoured(
        r#"operations:
  - create_constraint:
      table: users
      name: zq_unique
      type: unique
      columns: [email]
      nulls_not_distinct: true
"#,
    );
    assert_every_field_honoured(
        r#"operations:
  - create_constraint:
      table: users
      name: zq_fk
      type: foreign_key
      columns: [team_id]
      references: {table: teams, columns: [id], on_delete: SET NULL, on_update: CASCADE, match_type: FULL}
"#,
    );
}

#[test]
fn create_index_keeps_every_field() {
    assert_every_field_honoured(
        r#"operations:
  - create_index:
      name: zq_index
      table: users
      columns:
        - name
        - {column: email, collate: C, sort: DESC, nulls: FIRST, opclass: {name: text_pattern_ops}}
      predicate: "name <> 'zq_predicate'"
      method: btree
      storage_parameters: fillfactor=71
      unique: true
"#,
    );
}

#[test]
fn create_table_keeps_every_field() {
    assert_every_field_honoured(
        r#"operations:
  - create_table:
      name: zq_table
      comment: zq_table_comment
      unlogged: true
      columns:
        - {name: id, type: bigint, pk: true}
        - {name: zq_a, type: text, nullable: false, unique: true, default: "'zq_default'", comment: zq_col_comment, check: {name: zq_col_check, constraint: "zq_a <> 'zq_expr'", no_inherit: true}}
        - {name: zq_team, type: integer, nullable: true, references: {name: zq_fk, table: teams, column: id, on_delete: CASCADE, on_update: CASCADE, match_type: SIMPLE, deferrable: true, initially_deferred: true}}
        - {name: zq_gen, type: integer, generated: {expression: "length('zq_gen')"}}
      constraints:
        - {name: zq_tcheck, type: check, check: "zq_a <> 'zq_texpr'", no_inherit: true}
        - {name: zq_tunique, type: unique, columns: [zq_a, zq_team], nulls_not_distinct: true, deferrable: true, initially_deferred: true, index_parameters: {include_columns: [zq_gen], storage_parameters: fillfactor=72}}
"#,
    );
}
