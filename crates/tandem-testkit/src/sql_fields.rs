//! Every field of the migration format that ends up in SQL, mapped to how it must be parsed
//! before use: an identifier (quoted), a keyword (checked against a list), a literal (quoted),
//! the `sql` operation's own statements, or a tandem-sql slot parser.
//!
//! Shared by tandem-core's `tests/sql_fields.rs` (every string field of the format has a
//! decision; every slot field parses) and tandem-pg's `tests/hostile.rs` (a hostile payload in
//! every field changes nothing at validate and plan). tandem-core's test includes this file
//! by path (a dev-dependency on this crate would build tandem-pg for tandem-core's tests).

use tandem_sql::{
    parse_exclusion_elements, parse_expression_in, parse_opclass_parameters, parse_query,
    parse_sequence_options, parse_storage_parameters, parse_type_name, ExpressionSlot as E,
};

/// How a field's text must be handled before it is placed in a statement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Use {
    /// A name: through the one quoting function, never spliced raw.
    Identifier,
    /// One of a fixed list of SQL keywords, checked by the operation (`CASCADE`, `btree`).
    Keyword,
    /// Free text placed as a string literal (`COMMENT ON ... IS '...'`).
    Literal,
    /// The `sql` operation's statements: the user's own SQL, run as written at start
    /// (never at validate or plan), one statement at a time.
    RawSql,
    TypeName,
    Expression(E),
    StorageParameters,
    OpclassParameters,
    SequenceOptions,
    ExclusionElements,
    Query,
}

/// The map: path of a string field (operation key, then field names; list indices and map
/// keys dropped, `*` standing for the column names of `up`/`down` maps) to its use.
pub const FIELDS: &[(&str, Use)] = &[
    ("version_schema", Use::Identifier),
    ("verify", Use::Query),
    // create_table
    ("create_table.name", Use::Identifier),
    ("create_table.comment", Use::Literal),
    ("create_table.columns.name", Use::Identifier),
    ("create_table.columns.type", Use::TypeName),
    ("create_table.columns.default", Use::Expression(E::Default)),
    ("create_table.columns.comment", Use::Literal),
    ("create_table.columns.check.name", Use::Identifier),
    (
        "create_table.columns.check.constraint",
        Use::Expression(E::Check),
    ),
    ("create_table.columns.references.name", Use::Identifier),
    ("create_table.columns.references.table", Use::Identifier),
    ("create_table.columns.references.column", Use::Identifier),
    ("create_table.columns.references.on_delete", Use::Keyword),
    ("create_table.columns.references.on_update", Use::Keyword),
    ("create_table.columns.references.match_type", Use::Keyword),
    (
        "create_table.columns.generated.expression",
        Use::Expression(E::Generated),
    ),
    (
        "create_table.columns.generated.identity.user_specified_values",
        Use::Keyword,
    ),
    (
        "create_table.columns.generated.identity.sequence_options",
        Use::SequenceOptions,
    ),
    ("create_table.constraints.name", Use::Identifier),
    ("create_table.constraints.type", Use::Keyword),
    ("create_table.constraints.columns", Use::Identifier),
    ("create_table.constraints.check", Use::Expression(E::Check)),
    ("create_table.constraints.references.table", Use::Identifier),
    (
        "create_table.constraints.references.columns",
        Use::Identifier,
    ),
    (
        "create_table.constraints.references.on_delete",
        Use::Keyword,
    ),
    (
        "create_table.constraints.references.on_update",
        Use::Keyword,
    ),
    (
        "create_table.constraints.references.match_type",
        Use::Keyword,
    ),
    (
        "create_table.constraints.index_parameters.include_columns",
        Use::Identifier,
    ),
    (
        "create_table.constraints.index_parameters.storage_parameters",
        Use::StorageParameters,
    ),
    (
        "create_table.constraints.index_parameters.tablespace",
        Use::Identifier,
    ),
    (
        "create_table.constraints.exclude.index_method",
        Use::Keyword,
    ),
    (
        "create_table.constraints.exclude.elements",
        Use::ExclusionElements,
    ),
    (
        "create_table.constraints.exclude.predicate",
        Use::Expression(E::ExclusionPredicate),
    ),
    // add_column: the column as in create_table, plus `up`
    ("add_column.table", Use::Identifier),
    ("add_column.up", Use::Expression(E::Up)),
    ("add_column.column.name", Use::Identifier),
    ("add_column.column.type", Use::TypeName),
    ("add_column.column.default", Use::Expression(E::Default)),
    ("add_column.column.comment", Use::Literal),
    ("add_column.column.check.name", Use::Identifier),
    (
        "add_column.column.check.constraint",
        Use::Expression(E::Check),
    ),
    ("add_column.column.references.name", Use::Identifier),
    ("add_column.column.references.table", Use::Identifier),
    ("add_column.column.references.column", Use::Identifier),
    ("add_column.column.references.on_delete", Use::Keyword),
    ("add_column.column.references.on_update", Use::Keyword),
    ("add_column.column.references.match_type", Use::Keyword),
    (
        "add_column.column.generated.expression",
        Use::Expression(E::Generated),
    ),
    (
        "add_column.column.generated.identity.user_specified_values",
        Use::Keyword,
    ),
    (
        "add_column.column.generated.identity.sequence_options",
        Use::SequenceOptions,
    ),
    // alter_column
    ("alter_column.table", Use::Identifier),
    ("alter_column.column", Use::Identifier),
    ("alter_column.name", Use::Identifier),
    ("alter_column.type", Use::TypeName),
    ("alter_column.up", Use::Expression(E::Up)),
    ("alter_column.down", Use::Expression(E::Down)),
    ("alter_column.default", Use::Expression(E::Default)),
    ("alter_column.comment", Use::Literal),
    ("alter_column.check.name", Use::Identifier),
    ("alter_column.check.constraint", Use::Expression(E::Check)),
    ("alter_column.unique.name", Use::Identifier),
    ("alter_column.references.name", Use::Identifier),
    ("alter_column.references.table", Use::Identifier),
    ("alter_column.references.column", Use::Identifier),
    ("alter_column.references.on_delete", Use::Keyword),
    ("alter_column.references.on_update", Use::Keyword),
    ("alter_column.references.match_type", Use::Keyword),
    // drop_column, renames, drop_table
    ("drop_column.table", Use::Identifier),
    ("drop_column.column", Use::Identifier),
    ("drop_column.down", Use::Expression(E::Down)),
    ("rename_column.table", Use::Identifier),
    ("rename_column.from", Use::Identifier),
    ("rename_column.to", Use::Identifier),
    ("rename_table.from", Use::Identifier),
    ("rename_table.to", Use::Identifier),
    ("drop_table.name", Use::Identifier),
    // sql
    ("sql.up", Use::RawSql),
    ("sql.down", Use::RawSql),
    // indexes
    ("create_index.name", Use::Identifier),
    ("create_index.table", Use::Identifier),
    ("create_index.columns", Use::Identifier),
    ("create_index.columns.column", Use::Identifier),
    ("create_index.columns.opclass.name", Use::Identifier),
    (
        "create_index.columns.opclass.params",
        Use::OpclassParameters,
    ),
    ("create_index.columns.collate", Use::Identifier),
    ("create_index.columns.sort", Use::Keyword),
    ("create_index.columns.nulls", Use::Keyword),
    ("create_index.predicate", Use::Expression(E::IndexPredicate)),
    ("create_index.method", Use::Keyword),
    ("create_index.storage_parameters", Use::StorageParameters),
    ("drop_index.name", Use::Identifier),
    // constraints
    ("create_constraint.table", Use::Identifier),
    ("create_constraint.name", Use::Identifier),
    ("create_constraint.type", Use::Keyword),
    ("create_constraint.columns", Use::Identifier),
    ("create_constraint.check", Use::Expression(E::Check)),
    ("create_constraint.references.table", Use::Identifier),
    ("create_constraint.references.columns", Use::Identifier),
    ("create_constraint.references.on_delete", Use::Keyword),
    ("create_constraint.references.on_update", Use::Keyword),
    ("create_constraint.references.match_type", Use::Keyword),
    ("create_constraint.up.*", Use::Expression(E::Up)),
    ("create_constraint.down.*", Use::Expression(E::Down)),
    ("drop_constraint.table", Use::Identifier),
    ("drop_constraint.name", Use::Identifier),
    ("drop_constraint.up", Use::Expression(E::Up)),
    ("drop_constraint.down", Use::Expression(E::Down)),
    ("drop_multicolumn_constraint.table", Use::Identifier),
    ("drop_multicolumn_constraint.name", Use::Identifier),
    ("drop_multicolumn_constraint.up.*", Use::Expression(E::Up)),
    (
        "drop_multicolumn_constraint.down.*",
        Use::Expression(E::Down),
    ),
    ("rename_constraint.table", Use::Identifier),
    ("rename_constraint.from", Use::Identifier),
    ("rename_constraint.to", Use::Identifier),
    ("set_replica_identity.table", Use::Identifier),
    ("set_replica_identity.identity.type", Use::Keyword),
    ("set_replica_identity.identity.index", Use::Identifier),
];

/// Every operation with every field set, with values of real migrations.
pub const EVERYTHING: &str = r#"
version_schema: app_v2
operations:
  - create_table:
      name: bookings
      comment: all bookings
      columns:
        - name: id
          type: bigint
          pk: true
          generated:
            identity:
              user_specified_values: BY DEFAULT
              sequence_options: START WITH 1000 INCREMENT BY 1 CACHE 20
        - name: room
          type: integer
          default: "0"
          nullable: false
          unique: true
          comment: the room
          check: {name: room_positive, constraint: room >= 0, no_inherit: true}
          references:
            name: bookings_room_fk
            table: rooms
            column: id
            on_delete: CASCADE
            on_update: NO ACTION
            match_type: SIMPLE
            deferrable: true
            initially_deferred: true
        - name: nights
          type: integer
          generated: {expression: "upper(during) - lower(during)"}
        - name: during
          type: daterange
      constraints:
        - name: no_overlap
          type: exclude
          columns: [room, during]
          check: room > 0
          references:
            table: rooms
            columns: [id]
            on_delete: RESTRICT
            on_update: CASCADE
            match_type: FULL
          deferrable: true
          initially_deferred: true
          no_inherit: true
          nulls_not_distinct: true
          index_parameters:
            include_columns: [nights]
            storage_parameters: fillfactor = 70
            tablespace: fast
          exclude:
            index_method: gist
            elements: room WITH =, during WITH &&
            predicate: NOT cancelled
      unlogged: true
  - add_column:
      table: bookings
      up: "coalesce(room, 0) * 2"
      column:
        name: doubled
        type: numeric(10,2)
        default: "0"
        comment: twice the room
        check: {name: doubled_positive, constraint: doubled >= 0}
        references:
          name: doubled_fk
          table: rooms
          column: id
          on_delete: SET NULL
          on_update: SET DEFAULT
          match_type: PARTIAL
        generated:
          expression: room * 2
          identity:
            user_specified_values: ALWAYS
            sequence_options: MINVALUE 1 NO CYCLE
  - alter_column:
      table: bookings
      column: room
      name: room_number
      type: bigint
      up: CAST(room AS bigint)
      down: CAST(room_number AS integer)
      nullable: true
      default: "1"
      comment: the room number
      check: {name: room_number_positive, constraint: room_number > 0}
      unique: {name: room_number_key}
      references:
        name: room_number_fk
        table: rooms
        column: id
        on_delete: CASCADE
        on_update: CASCADE
        match_type: SIMPLE
  - drop_column: {table: bookings, column: nights, down: "upper(during) - lower(during)"}
  - rename_column: {table: bookings, from: doubled, to: twice}
  - rename_table: {from: bookings, to: reservations}
  - drop_table: {name: old_bookings}
  - sql: {up: "CREATE TABLE audit (id int)", down: "DROP TABLE audit", onComplete: false}
  - create_index:
      name: reservations_during_idx
      table: reservations
      columns:
        - room
        - column: during
          opclass: {name: range_ops, params: [siglen = 32]}
          collate: C
          sort: DESC
          nulls: LAST
      predicate: deleted_at IS NULL
      method: gist
      storage_parameters: fillfactor = 90, buffering = auto
      unique: false
  - drop_index: {name: reservations_old_idx}
  - create_constraint:
      table: reservations
      name: room_check
      type: check
      columns: [room]
      check: room > 0
      references:
        table: rooms
        columns: [id]
        on_delete: CASCADE
        on_update: NO ACTION
        match_type: SIMPLE
      up: {room: "CASE WHEN room > 0 THEN room ELSE 1 END"}
      down: {room: room}
      no_inherit: true
      nulls_not_distinct: true
  - drop_constraint: {table: reservations, name: room_check, up: room, down: "greatest(room, 1)"}
  - drop_multicolumn_constraint:
      table: reservations
      name: pair_check
      up: {room: room}
      down: {room: "greatest(room, 1)"}
  - rename_constraint: {table: reservations, from: a_check, to: b_check}
  - set_replica_identity: {table: reservations, identity: {type: index, index: reservations_pkey}}
verify:
  - SELECT id FROM reservations WHERE room <= 0
"#;

/// Every string in `v` with its path (`create_table.columns.name`).
pub fn strings(v: &serde_json::Value, path: &str, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        serde_json::Value::String(s) => out.push((path.to_owned(), s.clone())),
        serde_json::Value::Array(items) => items.iter().for_each(|i| strings(i, path, out)),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                // `up`/`down` maps of constraints are keyed by column names.
                let key = if path.ends_with(".up") || path.ends_with(".down") {
                    "*"
                } else {
                    k.as_str()
                };
                // The operation list itself is not a path element.
                let next = if path == "operations" {
                    k.clone()
                } else {
                    join(key)
                };
                strings(v, &next, out);
            }
        }
        _ => {}
    }
}

/// Runs the slot parser of `use_`, if it has one.
pub fn check(use_: Use, text: &str) -> Option<Result<String, String>> {
    let r = match use_ {
        Use::TypeName => parse_type_name(text).map(|f| f.sql().to_owned()),
        Use::Expression(slot) => parse_expression_in(slot, text).map(|e| e.sql()),
        Use::StorageParameters => parse_storage_parameters(text).map(|f| f.sql().to_owned()),
        Use::OpclassParameters => parse_opclass_parameters(text).map(|f| f.sql().to_owned()),
        Use::SequenceOptions => parse_sequence_options(text).map(|f| f.sql().to_owned()),
        Use::ExclusionElements => parse_exclusion_elements(text).map(|f| f.sql().to_owned()),
        Use::Query => parse_query(text).map(|f| f.sql().to_owned()),
        Use::Identifier | Use::Keyword | Use::Literal | Use::RawSql => return None,
    };
    Some(r.map_err(|e| e.to_string()))
}
