//! The SQL that makes a database refuse application writes (the passive side, a fenced
//! table): one trigger function, installed with tandem's schema, and its per-table trigger.
//! Its own leaf so the state installer and the link and fence steps all depend on it, not on
//! each other.

use crate::names::{REFUSE_FUNCTION, REFUSE_TRIGGER, SCHEMA};
use tandem_core::quote::{ident, literal, qualified};

/// The function of the triggers refusing application writes: SQLSTATE 25006, as from a
/// read-only server, so applications and drivers treat it as such.
pub fn refuse_function() -> String {
    format!(
        "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {}",
        qualified(SCHEMA, REFUSE_FUNCTION),
        literal(
            "BEGIN RAISE EXCEPTION 'tandem bluegreen: % is the passive database; write to the active one', current_database() \
             USING ERRCODE = '25006', HINT = 'tandem bluegreen status says which database is active'; END"
        )
    )
}

pub fn refuse_trigger(schema: &str, table: &str) -> String {
    format!(
        "CREATE OR REPLACE TRIGGER {} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {} FOR EACH STATEMENT EXECUTE FUNCTION {}()",
        ident(REFUSE_TRIGGER),
        qualified(schema, table),
        qualified(SCHEMA, REFUSE_FUNCTION)
    )
}
