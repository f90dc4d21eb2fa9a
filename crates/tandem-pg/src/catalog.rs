//! Reads the live schema from the catalogs into tandem's logical schema model.
//!
//! Only catalogs are read (no psql or pg_dump), so it works with any client-less server build.

use crate::error::{Error, Result};
use crate::rows::column;
use serde::Deserialize;
use tandem_core::schema::{
    Column, Constraint, ConstraintKind, Index, Partition, Partitioning, Schema, Sequence, Table,
};
use tokio_postgres::GenericClient;

#[derive(Deserialize)]
struct RawTable {
    name: String,
    rows: i64,
    columns: Option<Vec<RawColumn>>,
    constraints: Option<Vec<RawConstraint>>,
    indexes: Option<Vec<RawIndex>>,
    #[serde(default)]
    partitioning: Option<RawPartitioning>,
}

#[derive(Deserialize)]
struct RawPartitioning {
    key_columns: Option<Vec<String>>,
    key_has_expressions: bool,
    partitions: Option<Vec<RawPartition>>,
}

#[derive(Deserialize)]
struct RawPartition {
    schema: String,
    name: String,
    partitioned: bool,
}

#[derive(Deserialize)]
struct RawColumn {
    #[serde(default)]
    referenced: bool,
    name: String,
    #[serde(rename = "type")]
    data_type: String,
    nullable: bool,
    default: Option<String>,
    generated: bool,
    comment: Option<String>,
    #[serde(default)]
    sequence: Option<RawSequence>,
    /// `a` (ALWAYS) or `d` (BY DEFAULT) for an identity column.
    #[serde(default)]
    identity: Option<String>,
}

#[derive(Deserialize)]
struct RawSequence {
    schema: String,
    name: String,
    #[serde(rename = "type")]
    data_type: String,
    increment: i64,
    min: i64,
    max: i64,
    start: i64,
    cache: i64,
    cycle: bool,
}

#[derive(Deserialize)]
struct RawConstraint {
    #[serde(default)]
    expression: Option<String>,
    #[serde(default)]
    references: Option<RawReference>,
    name: String,
    kind: String,
    columns: Option<Vec<String>>,
    #[serde(default)]
    no_inherit: bool,
}

#[derive(Deserialize)]
struct RawReference {
    table: String,
    columns: Option<Vec<String>>,
    on_delete: Option<String>,
}

#[derive(Deserialize)]
struct RawIndex {
    #[serde(default)]
    method: String,
    #[serde(default)]
    plain: bool,
    #[serde(default)]
    constraint: Option<String>,
    name: String,
    unique: bool,
    columns: Option<Vec<String>>,
}

const INTROSPECT: &str = r#"
SELECT coalesce(json_agg(json_build_object(
  'name', c.relname,
  'rows', greatest(c.reltuples, 0)::bigint,
  'columns', (SELECT json_agg(json_build_object(
        'name', a.attname,
        'type', format_type(a.atttypid, a.atttypmod),
        'nullable', NOT a.attnotnull,
        'default', pg_get_expr(d.adbin, d.adrelid),
        'generated', a.attidentity <> '' OR a.attgenerated <> '',
        'comment', col_description(c.oid, a.attnum),
        'identity', NULLIF(a.attidentity, ''),
        'sequence', (SELECT json_build_object('schema', sn.nspname, 'name', s.relname, 'type', format_type(q.seqtypid, NULL),
                'increment', q.seqincrement, 'min', q.seqmin, 'max', q.seqmax, 'start', q.seqstart, 'cache', q.seqcache, 'cycle', q.seqcycle)
              FROM pg_depend dep
              JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
              JOIN pg_namespace sn ON sn.oid = s.relnamespace
              JOIN pg_sequence q ON q.seqrelid = s.oid
              WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
                AND dep.refobjid = c.oid AND dep.refobjsubid = a.attnum AND dep.deptype IN ('a', 'i')
              ORDER BY s.relname LIMIT 1),
        'referenced', EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = c.oid AND a.attnum = ANY (f.confkey))) ORDER BY a.attnum)
      FROM pg_attribute a
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
  'constraints', (SELECT json_agg(json_build_object(
        'name', con.conname,
        'kind', con.contype,
        'no_inherit', con.connoinherit,
        'expression', CASE WHEN con.contype = 'c' THEN pg_get_expr(con.conbin, con.conrelid) END,
        'references', CASE WHEN con.contype = 'f' THEN json_build_object(
            'table', (SELECT relname FROM pg_class WHERE oid = con.confrelid),
            'columns', (SELECT json_agg(a.attname ORDER BY k.ord)
                        FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum),
            'on_delete', CASE con.confdeltype WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END) END,
        'columns', (SELECT json_agg(a.attname ORDER BY k.ord)
                    FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum)))
      FROM pg_constraint con WHERE con.conrelid = c.oid),
  'indexes', (SELECT json_agg(json_build_object(
        'name', i.relname,
        'unique', x.indisunique,
        'method', (SELECT amname FROM pg_am WHERE oid = i.relam),
        'plain', x.indexprs IS NULL AND x.indpred IS NULL AND x.indnatts = x.indnkeyatts AND NOT (0 = ANY (x.indkey::int2[])),
        'constraint', (SELECT conname FROM pg_constraint WHERE conindid = x.indexrelid AND conrelid = c.oid LIMIT 1),
        'columns', (SELECT json_agg(a.attname ORDER BY k.ord)
                    FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum)))
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid),
  'partitioning', CASE WHEN c.relkind = 'p' THEN json_build_object(
        'key_columns', (SELECT json_agg(a.attname ORDER BY k.ord)
                        FROM pg_partitioned_table pt, unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                        WHERE pt.partrelid = c.oid),
        'key_has_expressions', EXISTS (SELECT 1 FROM pg_partitioned_table pt WHERE pt.partrelid = c.oid AND pt.partexprs IS NOT NULL),
        'partitions', (SELECT json_agg(json_build_object('schema', pn.nspname, 'name', p.relname, 'partitioned', p.relkind = 'p') ORDER BY pn.nspname, p.relname)
                       FROM pg_inherits inh JOIN pg_class p ON p.oid = inh.inhrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
                       WHERE inh.inhparent = c.oid)) END
) ORDER BY c.relname), '[]'::json)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"#;

/// The tables of `schema` as they physically are (logical names = physical names).
pub(crate) async fn introspect(client: &impl GenericClient, schema: &str) -> Result<Schema> {
    let what = format!("reading the tables of schema {schema}");
    let row = client
        .query_one(INTROSPECT, &[&schema])
        .await
        .map_err(|e| Error::db(&what, e))?;
    let json: serde_json::Value = column(&row, 0, &what)?;
    let raw: Vec<RawTable> = serde_json::from_value(json).map_err(|e| {
        Error::internal(format!(
            "unexpected catalog contents for schema {schema}: {e}"
        ))
    })?;
    let what = "reading the types of the schema";
    let types = client
        .query(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'c') AND NOT EXISTS \
             (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c') ORDER BY 1",
            &[&schema],
        )
        .await
        .map_err(|e| Error::db(what, e))?
        .iter()
        .map(|r| column::<String>(r, 0, what))
        .collect::<Result<_>>()?;
    Ok(Schema {
        name: schema.to_string(),
        types,
        tables: raw.into_iter().map(table_of).collect(),
    })
}

fn table_of(t: RawTable) -> Table {
    let constraints: Vec<Constraint> = t
        .constraints
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| {
            let kind = match c.kind.as_str() {
                "p" => ConstraintKind::PrimaryKey,
                "u" => ConstraintKind::Unique,
                "c" => ConstraintKind::Check,
                "f" => ConstraintKind::ForeignKey,
                "x" => ConstraintKind::Exclude,
                "n" => ConstraintKind::NotNull,
                "t" => ConstraintKind::Trigger,
                _ => return None,
            };
            Some(Constraint {
                name: c.name,
                kind,
                columns: c.columns.unwrap_or_default(),
                expression: c.expression,
                references: c.references.map(|r| tandem_core::schema::ForeignKeyTarget {
                    table: r.table,
                    columns: r.columns.unwrap_or_default(),
                    on_delete: r.on_delete,
                }),
                no_inherit: c.no_inherit,
            })
        })
        .collect();
    let primary_key = constraints
        .iter()
        .find(|c| c.kind == ConstraintKind::PrimaryKey)
        .map(|c| c.columns.clone())
        .unwrap_or_default();
    Table {
        physical: t.name.clone(),
        name: t.name,
        estimated_rows: t.rows,
        columns: t
            .columns
            .unwrap_or_default()
            .into_iter()
            .map(|c| Column {
                physical: c.name.clone(),
                name: c.name,
                data_type: c.data_type,
                nullable: c.nullable,
                default: c.default,
                generated: c.generated,
                comment: c.comment,
                referenced: c.referenced,
                identity_always: c.identity.map(|i| i == "a"),
                sequence: c.sequence.map(|q| Sequence {
                    schema: q.schema,
                    name: q.name,
                    data_type: q.data_type,
                    increment: q.increment,
                    min_value: q.min,
                    max_value: q.max,
                    start: q.start,
                    cache: q.cache,
                    cycle: q.cycle,
                }),
            })
            .collect(),
        primary_key,
        constraints,
        indexes: t
            .indexes
            .unwrap_or_default()
            .into_iter()
            .map(|i| Index {
                name: i.name,
                unique: i.unique,
                columns: i.columns.unwrap_or_default(),
                method: i.method,
                plain: i.plain,
                constraint: i.constraint,
            })
            .collect(),
        created_here: false,
        sync: Vec::new(),
        new_constraints: Vec::new(),
        partitioning: t.partitioning.map(|p| Partitioning {
            key_columns: p.key_columns.unwrap_or_default(),
            key_has_expressions: p.key_has_expressions,
            partitions: p
                .partitions
                .unwrap_or_default()
                .into_iter()
                .map(|q| Partition {
                    schema: q.schema,
                    name: q.name,
                    partitioned: q.partitioned,
                })
                .collect(),
        }),
    }
}

/// `server_version_num`, e.g. 150004.
pub(crate) async fn server_version_num(client: &impl GenericClient) -> Result<i32> {
    let row = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(|e| Error::db("reading the server version", e))?;
    column(&row, 0, "reading the server version")
}

pub(crate) async fn schema_exists(client: &impl GenericClient, schema: &str) -> Result<bool> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .await
        .map_err(|e| Error::db("looking up a schema", e))?;
    column(&row, 0, "looking up a schema")
}

/// The application's row-level BEFORE INSERT or UPDATE triggers on `tables` (physical names in
/// `schema`) that PostgreSQL would fire after tandem's dual-write trigger, as (table, trigger).
/// Triggers of one event fire in the byte order of their names (`COLLATE "C"`), disabled ones
/// included: they may be enabled while the migration runs.
pub(crate) async fn triggers_firing_after_dual_write(
    client: &impl GenericClient,
    schema: &str,
    tables: &[String],
) -> Result<Vec<(String, String)>> {
    const BEFORE_ROW_INSERT_OR_UPDATE: &str = "t.tgtype & 3 = 3 AND t.tgtype & 20 <> 0";
    let sql = format!(
        "SELECT c.relname::text, t.tgname::text FROM pg_catalog.pg_trigger t \
         JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = ANY($2) AND NOT t.tgisinternal \
         AND {BEFORE_ROW_INSERT_OR_UPDATE} \
         AND t.tgname COLLATE \"C\" > $3 COLLATE \"C\" \
         ORDER BY 1, 2"
    );
    let what = "reading the triggers of the tables to sync";
    let rows = client
        .query(
            sql.as_str(),
            &[&schema, &tables, &tandem_core::DUAL_WRITE_TRIGGER],
        )
        .await
        .map_err(|e| Error::db(what, e))?;
    rows.iter()
        .map(|r| Ok((column::<String>(r, 0, what)?, column::<String>(r, 1, what)?)))
        .collect()
}
