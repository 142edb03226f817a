//! The two table layouts the consul CLI prints, reproduced byte for byte so scripts that
//! cut columns out of `consul members` or `consul kv get -detailed` keep working:
//!
//! - [`columnize`] (ryanuber/columnize's defaults): every column as wide as its widest
//!   cell, cells joined by two spaces, the last cell of a row never padded.
//! - [`tabwrite`] (Go's `text/tabwriter` with padding 6 and spaces): the first cell padded
//!   to the widest first cell plus six, the rest of the line as is.
//!
//! Widths count characters, not bytes, as both Go libraries count runes.

/// Rows as aligned lines, without a trailing newline.
pub(super) fn columnize(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.trim().chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(width),
                None => widths.push(width),
            }
        }
    }
    let lines: Vec<String> = rows
        .iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let cell = cell.trim();
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    let pad = widths[i] - cell.chars().count();
                    line.extend(std::iter::repeat_n(' ', pad + 2));
                }
            }
            line
        })
        .collect();
    lines.join("\n")
}

/// `(label, rest)` pairs as `label<spaces>rest` lines, without a trailing newline.
pub(super) fn tabwrite(rows: &[(String, String)]) -> String {
    const PADDING: usize = 6;
    let width = rows.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0) + PADDING;
    let lines: Vec<String> = rows
        .iter()
        .map(|(label, rest)| {
            let pad = width - label.chars().count();
            format!("{label}{}{rest}", " ".repeat(pad))
        })
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn columnize_pads_all_but_the_last_cell_to_the_widest_in_its_column() {
        let out = columnize(&[
            row(&["Node", "Address", "Status"]),
            row(&["a-long-name", "127.0.0.1:8301", "alive"]),
        ]);
        assert_eq!(out, "Node         Address         Status\na-long-name  127.0.0.1:8301  alive");
    }

    #[test]
    fn columnize_trims_cells_and_counts_characters_not_bytes() {
        let out = columnize(&[row(&[" ü ", "x"]), row(&["ab", "y"])]);
        assert_eq!(out, "ü   x\nab  y");
    }

    #[test]
    fn tabwrite_pads_labels_to_the_widest_plus_six() {
        let rows = vec![("Key".to_owned(), "foo".to_owned()), ("CreateIndex".into(), "5".into())];
        assert_eq!(tabwrite(&rows), "Key              foo\nCreateIndex      5");
    }
}
