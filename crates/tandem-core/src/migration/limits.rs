//! Size and nesting limits of a migration file, checked before any YAML or JSON parser runs.
//!
//! libyaml takes about a minute of CPU to refuse 100,000 nested `[` in 200 KB (serde's own
//! depth limit only applies after libyaml has built every event), so the nesting is measured
//! here first, in one linear pass over the text. The measure is an upper bound of the real
//! nesting (each block line and each `- ` counts one level, each flow `[`/`{` one more), which
//! is far above any real migration's depth and far below anything slow to parse.

/// The largest migration file accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

/// The deepest nesting accepted (a real migration nests about 8 levels).
pub const MAX_NESTING_DEPTH: usize = 64;

/// Where (1-based line and column) the text first nests deeper than `max` levels, counting
/// YAML block levels (indentation, `- `, `? `) and flow collections (`[`, `{`, also JSON's),
/// outside quoted strings, block scalars and comments.
pub(crate) fn too_deep_at(text: &str, max: usize) -> Option<(usize, usize)> {
    let mut scan = Scan::default();
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(column) = scan.line(line.as_bytes(), max) {
            return Some((index + 1, column + 1));
        }
    }
    None
}

/// The scan errs on the side of counting: wherever it cannot tell a bracket in text from a
/// bracket that nests, it counts it. It never skips text libyaml would read as structure: a
/// quoted string in block context ends at the end of its line for the scan (the next lines
/// are scanned as YAML), a block scalar covers only lines indented at least as deep as its
/// first line, and a quote opens only where YAML starts a node.
#[derive(Default)]
struct Scan {
    /// Indentation columns of the open block levels.
    block: Vec<usize>,
    /// Open flow collections (`[`, `{`).
    flow: usize,
    /// Inside a quoted scalar (in a flow collection, it may continue on the next line).
    quote: Option<u8>,
    /// Inside a block scalar (`|`, `>`) started on a line of this indentation, and the
    /// indentation of its first text line once known.
    block_scalar: Option<(usize, Option<usize>)>,
    /// In a flow collection, whether the next character starts a node (after `[`, `{`, `,`,
    /// `? `, `: `, or `:` right after a quoted key), where a quote opens a quoted scalar.
    flow_node_start: bool,
    /// The last significant character closed a quoted scalar or a collection (a JSON-like
    /// key, after which `:` needs no space).
    after_json_key: bool,
}

fn is_blank(b: Option<&u8>) -> bool {
    b.is_none_or(|b| matches!(*b, b' ' | b'\t' | b'\r'))
}

impl Scan {
    /// Scans one line; returns the byte column where the nesting exceeds `max`.
    fn line(&mut self, line: &[u8], max: usize) -> Option<usize> {
        let indent = line.iter().take_while(|b| **b == b' ').count();
        let blank = line[indent..]
            .iter()
            .all(|b| matches!(*b, b' ' | b'\t' | b'\r'));
        if let Some((parent, content)) = self.block_scalar {
            if blank {
                return None;
            }
            match content {
                None if indent > parent => {
                    self.block_scalar = Some((parent, Some(indent)));
                    return None;
                }
                Some(c) if indent >= c => return None,
                _ => self.block_scalar = None,
            }
        }
        let mut i = 0;
        if self.quote.is_none() && self.flow == 0 {
            // Block context: the line's indentation closes deeper levels and opens its own.
            if blank || line.get(indent) == Some(&b'#') {
                return None;
            }
            if line.starts_with(b"---") || line.starts_with(b"...") || line.starts_with(b"%") {
                self.block.clear();
                if !line.starts_with(b"---") {
                    return None;
                }
                i = 3;
            } else {
                i = indent;
            }
            while self.block.last().is_some_and(|c| *c >= i) {
                self.block.pop();
            }
            self.block.push(i);
            // `- - - x`, `? `, `: `: each indicator opens one more level on the same line.
            while i < line.len()
                && matches!(line[i], b'-' | b'?' | b':')
                && is_blank(line.get(i + 1))
            {
                i += 1;
                while line.get(i).is_some_and(|b| *b == b' ' || *b == b'\t') {
                    i += 1;
                }
                self.block.push(i);
                if self.depth() > max {
                    return Some(i);
                }
            }
            if self.depth() > max {
                return Some(indent);
            }
        }
        let found = self.rest(line, i, indent, max);
        if self.flow == 0 {
            // Only flow collections carry a quote over to the next line (see `Scan`).
            self.quote = None;
        }
        found
    }

    fn depth(&self) -> usize {
        self.block.len() + self.flow
    }

    /// Scans from byte `i` to the end of the line, `indent` being the line's indentation.
    fn rest(&mut self, line: &[u8], mut i: usize, indent: usize, max: usize) -> Option<usize> {
        // In block context, whether `i` is where a node starts (line start, after `: `).
        let mut block_node_start = true;
        while i < line.len() {
            let c = line[i];
            if let Some(q) = self.quote {
                if c == b'\\' && q == b'"' {
                    i += 2;
                    continue;
                }
                if c == q {
                    if q == b'\'' && line.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    self.quote = None;
                    block_node_start = false;
                    self.flow_node_start = false;
                    self.after_json_key = true;
                }
                i += 1;
                continue;
            }
            let after_space = i == 0 || matches!(line[i - 1], b' ' | b'\t');
            if c == b'#' && after_space {
                return None; // a comment runs to the end of the line
            }
            let json_key = std::mem::take(&mut self.after_json_key);
            if self.flow > 0 {
                match c {
                    b'[' | b'{' => {
                        self.flow += 1;
                        self.flow_node_start = true;
                        if self.depth() > max {
                            return Some(i);
                        }
                    }
                    b']' | b'}' => {
                        self.flow -= 1;
                        self.flow_node_start = false;
                        self.after_json_key = true;
                        block_node_start = false;
                    }
                    b',' => self.flow_node_start = true,
                    b':' | b'?' if json_key || is_blank(line.get(i + 1)) => {
                        self.flow_node_start = true
                    }
                    b'\'' | b'"' if self.flow_node_start => self.quote = Some(c),
                    b' ' | b'\t' | b'\r' => self.after_json_key = json_key,
                    _ => self.flow_node_start = false,
                }
                i += 1;
                continue;
            }
            if block_node_start {
                match c {
                    b' ' | b'\t' => {}
                    b'[' | b'{' => {
                        self.flow = 1;
                        self.flow_node_start = true;
                        if self.depth() > max {
                            return Some(i);
                        }
                    }
                    b'\'' | b'"' => self.quote = Some(c),
                    b'|' | b'>' => {
                        self.block_scalar = Some((indent, None));
                        return None;
                    }
                    b'&' | b'!' => {
                        // An anchor or a tag comes before the node it names.
                        while line.get(i + 1).is_some_and(|b| *b != b' ' && *b != b'\t') {
                            i += 1;
                        }
                    }
                    _ => block_node_start = false,
                }
            } else if c == b':' && (json_key || is_blank(line.get(i + 1))) {
                block_node_start = true; // a mapping value follows
            } else if matches!(c, b' ' | b'\t') {
                self.after_json_key = json_key;
            }
            i += 1;
        }
        None
    }
}
