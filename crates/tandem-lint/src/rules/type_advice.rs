//! What the type-advice rules (`prefer-jsonb`, `prefer-timestamptz`, `prefer-text-over-char`,
//! `prefer-bigint-keys`) share: one finding per declared column of a type they advise against.

use crate::ast::{declared_columns, Declared, TypeInfo};
use crate::rule::Hit;
use crate::state::StmtCx;

/// The type-advice rules' shared check: a finding for every column the statement declares
/// whose type `matches`, saying `advice`.
pub(crate) fn type_advice(
    cx: &StmtCx<'_>,
    out: &mut Vec<Hit>,
    matches: impl Fn(&Declared<'_>, &TypeInfo) -> bool,
    advice: &str,
) {
    for d in declared_columns(cx.node) {
        let t = TypeInfo::of(d.ty);
        if matches(&d, &t) {
            out.push(
                Hit::new(format!("`{}` is {}: {advice}", d.column, t.display())).at(d.location),
            );
        }
    }
}
