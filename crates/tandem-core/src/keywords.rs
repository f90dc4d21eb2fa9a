//! The closed lists of SQL keywords a migration file may choose from. A chosen keyword is
//! spliced into SQL as it is, so it must be one of these, spelled as listed here.

use crate::error::OpError;

/// A closed list of keywords for one field of a migration file.
pub(crate) struct Keywords {
    /// What the field holds, for the error message: "an index method".
    pub what: &'static str,
    /// The allowed values, spelled as they go into SQL.
    pub words: &'static [&'static str],
}

/// The access method of an index that names none (PostgreSQL's default).
pub(crate) const DEFAULT_INDEX_METHOD: &str = "btree";

pub(crate) const INDEX_METHODS: Keywords = Keywords {
    what: "an index method",
    words: &["btree", "hash", "gist", "spgist", "gin", "brin"],
};

pub(crate) const REFERENTIAL_ACTIONS: Keywords = Keywords {
    what: "a referential action",
    words: &[
        "NO ACTION",
        "RESTRICT",
        "CASCADE",
        "SET NULL",
        "SET DEFAULT",
    ],
};

pub(crate) const MATCH_TYPES: Keywords = Keywords {
    what: "a foreign key match type",
    words: &["SIMPLE", "FULL", "PARTIAL"],
};

pub(crate) const SORT_ORDERS: Keywords = Keywords {
    what: "a sort order",
    words: &["ASC", "DESC"],
};

pub(crate) const NULLS_ORDERS: Keywords = Keywords {
    what: "a place for NULLs",
    words: &["FIRST", "LAST"],
};

pub(crate) const IDENTITY_KINDS: Keywords = Keywords {
    what: "an identity kind",
    words: &["ALWAYS", "BY DEFAULT"],
};

pub(crate) const REPLICA_IDENTITIES: Keywords = Keywords {
    what: "a replica identity type",
    words: &["nothing", "default", "full", "index"],
};

impl Keywords {
    /// The listed spelling of `value` (compared without case and surrounding spaces), or an
    /// error naming `field` and the choices.
    pub(crate) fn pick(&self, field: &str, value: &str) -> Result<&'static str, OpError> {
        let wanted = value.trim();
        self.words
            .iter()
            .find(|w| w.eq_ignore_ascii_case(wanted))
            .copied()
            .ok_or_else(|| {
                OpError::new(
                    format!("`{field}: {value}` is not {}", self.what),
                    format!("use one of: {}", self.words.join(", ")),
                )
            })
    }

    /// [`Keywords::pick`] for an optional field.
    pub(crate) fn pick_opt(
        &self,
        field: &str,
        value: Option<&str>,
    ) -> Result<Option<&'static str>, OpError> {
        value.map(|v| self.pick(field, v)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyword_is_found_whatever_its_case_and_given_back_as_listed() {
        assert_eq!(
            REFERENTIAL_ACTIONS.pick("on_delete", " set null "),
            Ok("SET NULL")
        );
        assert_eq!(INDEX_METHODS.pick("method", "GIN"), Ok("gin"));
    }

    #[test]
    fn anything_else_is_refused_with_the_choices() {
        let e = MATCH_TYPES
            .pick("match_type", "FULL; DROP TABLE t")
            .unwrap_err();
        assert!(
            e.message.contains("is not a foreign key match type"),
            "{}",
            e.message
        );
        assert_eq!(e.help, "use one of: SIMPLE, FULL, PARTIAL");
    }
}
