//! Aligned text tables.

/// A table: a header row, rows, columns padded to their widest cell; numbers right-aligned.
pub struct Table {
    head: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns as (title, right-aligned).
    pub fn new(cols: &[(&'static str, bool)]) -> Table {
        Table {
            head: cols.iter().map(|c| c.0).collect(),
            right: cols.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; each cell is made printable (see [`printable`]): a tensor name comes
    /// from the file and may hold escape codes or newlines.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.head.len());
        self.rows.push(cells.iter().map(|c| printable(c)).collect());
    }

    /// The table as lines (no trailing newline on the last).
    pub fn render(&self) -> String {
        let mut w: Vec<usize> = self.head.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut s = String::new();
            for (i, c) in cells.enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                let pad = w[i] - c.chars().count();
                if self.right[i] {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    if i + 1 < w.len() {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            s.trim_end().to_string()
        };
        let mut out = vec![line(&mut self.head.iter().copied())];
        for r in &self.rows {
            out.push(line(&mut r.iter().map(String::as_str)));
        }
        out.join("\n")
    }
}

/// `s` with every control character (escape codes, newlines, tabs, C1 controls) and
/// bidirectional-text override written as `\u{..}`, and `\` as `\\`: text from a file that
/// cannot reach the terminal as anything but visible characters.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if c == '\\' {
            out.push_str("\\\\");
        } else if c.is_control() || bidi {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// compressed / original with four decimals, or "-" for an empty original.
pub fn ratio(compressed: u64, original: u64) -> String {
    if original == 0 {
        "-".to_string()
    } else {
        format!("{:.4}", compressed as f64 / original as f64)
    }
}

/// compressed / original as a JSON value (null for an empty original).
pub fn ratio_json(compressed: u64, original: u64) -> serde_json::Value {
    if original == 0 {
        serde_json::Value::Null
    } else {
        serde_json::json!(compressed as f64 / original as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns() {
        let mut t = Table::new(&[("name", false), ("bytes", true)]);
        t.row(vec!["a".into(), "1000".into()]);
        t.row(vec!["longer".into(), "7".into()]);
        assert_eq!(t.render(), "name    bytes\na        1000\nlonger      7");
        assert_eq!(ratio(1, 4), "0.2500");
        assert_eq!(ratio(1, 0), "-");
    }

    #[test]
    fn cells_cannot_carry_escape_codes_or_line_breaks() {
        assert_eq!(printable("w\x1b[2J\n\tx"), "w\\u{1b}[2J\\u{a}\\u{9}x");
        assert_eq!(printable("a\u{202e}b\\c\u{85}"), "a\\u{202e}b\\\\c\\u{85}");
        assert_eq!(printable("model.layers.0.ü"), "model.layers.0.ü");
        let mut t = Table::new(&[("name", false)]);
        t.row(vec!["a\nb".into()]);
        assert_eq!(t.render(), "name\na\\u{a}b");
    }
}
