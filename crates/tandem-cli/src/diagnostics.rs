//! Turns tandem's errors into miette reports: the message, a code frame at the file and line
//! when there is one, and what to do next.

use miette::{LabeledSpan, MietteDiagnostic, NamedSource, Report};
use tandem_core::{ParseError, PlanError};

/// A report pointing at `line`/`column` (1-based) of `file`, when the file can be read.
fn at(
    message: String,
    help: String,
    file: &str,
    line: Option<usize>,
    column: Option<usize>,
) -> Report {
    let mut diag = MietteDiagnostic::new(message).with_help(help);
    let text = std::fs::read_to_string(file).ok();
    if let (Some(text), Some(line)) = (&text, line.filter(|l| *l > 0)) {
        if let Some(offset) = offset_of(text, line, column.unwrap_or(1)) {
            let len = text[offset..]
                .find('\n')
                .unwrap_or(text.len() - offset)
                .max(1);
            diag = diag.with_label(LabeledSpan::at(offset..offset + len, "here"));
            return Report::new(diag).with_source_code(NamedSource::new(file, text.clone()));
        }
    }
    let location = match (line, column) {
        (Some(l), Some(c)) if l > 0 => format!(" ({file}:{l}:{c})"),
        (Some(l), None) if l > 0 => format!(" ({file}:{l})"),
        _ => format!(" ({file})"),
    };
    let MietteDiagnostic { message, help, .. } = diag;
    Report::new(
        MietteDiagnostic::new(format!("{message}{location}")).with_help(help.unwrap_or_default()),
    )
}

/// Byte offset of a 1-based line and column.
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let col = l
                .char_indices()
                .nth(column.saturating_sub(1))
                .map(|(b, _)| b)
                .unwrap_or(0);
            return Some(offset + col);
        }
        offset += l.len();
    }
    None
}

pub fn parse_error(e: ParseError) -> Report {
    at(e.message.clone(), e.help.clone(), &e.file, e.line, e.column)
}

pub fn plan_error(e: &PlanError) -> Report {
    let what = match &e.operation {
        Some((i, kind)) => format!("operation {} ({kind}): {}", i + 1, e.message),
        None => e.message.clone(),
    };
    at(what, e.help.clone(), &e.file, e.line, None)
}

pub fn pg_error(e: tandem_pg::Error) -> Report {
    match e {
        tandem_pg::Error::Plan(p) => plan_error(&p),
        other => {
            let help = other.help();
            Report::new(MietteDiagnostic::new(other.to_string()).with_help(help))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_one_based() {
        let text = "ab\ncde\nf";
        assert_eq!(offset_of(text, 1, 1), Some(0));
        assert_eq!(offset_of(text, 2, 2), Some(4));
        assert_eq!(offset_of(text, 3, 1), Some(7));
        assert_eq!(offset_of(text, 9, 1), None);
    }
}
