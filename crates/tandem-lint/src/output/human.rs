//! `--format human`: a code frame with the statement underlined, the message and the help.

use super::sources::Sources;
use crate::finding::Finding;

pub fn render(findings: &[Finding], sources: &Sources) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!("{}[{}]: {}\n", f.severity, f.rule, f.message));
        out.push_str(&format!("  --> {}:{}:{}\n", f.file, f.line, f.column));
        if let Some(text) = sources.get(&f.file) {
            out.push_str(&frame(text, f));
        }
        for (i, line) in f.help.lines().enumerate() {
            let lead = if i == 0 { "   = help: " } else { "           " };
            out.push_str(lead);
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == crate::Severity::Error)
        .count();
    let notes = findings
        .iter()
        .filter(|f| f.severity == crate::Severity::Note)
        .count();
    let warnings = findings.len() - errors - notes;
    if findings.is_empty() {
        out.push_str("no problems found\n");
    } else {
        out.push_str(&format!(
            "{errors} error(s), {warnings} warning(s), {notes} note(s)\n"
        ));
    }
    out
}

/// The lines of the finding (at most 6), each with the part inside the finding underlined.
fn frame(text: &str, f: &Finding) -> String {
    const MAX_LINES: usize = 6;
    let lines: Vec<&str> = text.lines().collect();
    let width = f.end_line.to_string().len();
    let mut out = format!("{:width$} |\n", "");
    let last = f.end_line.min(f.line + MAX_LINES - 1);
    for n in f.line..=last {
        let Some(line) = lines.get(n.wrapping_sub(1)) else {
            break;
        };
        out.push_str(&format!("{n:>width$} | {line}\n"));
        let chars = line.chars().count();
        let from = if n == f.line {
            f.column.saturating_sub(1)
        } else {
            leading_spaces(line)
        };
        let to = if n == f.end_line {
            f.end_column.saturating_sub(1).min(chars)
        } else {
            chars
        };
        if to > from {
            out.push_str(&format!(
                "{:width$} | {}{}\n",
                "",
                " ".repeat(from),
                "^".repeat(to - from)
            ));
        }
    }
    if last < f.end_line {
        out.push_str(&format!("{:width$} | ...\n", ""));
    }
    out
}

fn leading_spaces(line: &str) -> usize {
    line.chars().take_while(|c| c.is_whitespace()).count()
}
