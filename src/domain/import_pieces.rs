//! A streamed import body cut into pieces of whole records, each read by the same
//! `read_csv`/`read_jsonl` as a file, with its line numbers as in the whole body: an
//! import of any size is read in bounded memory, by the same rules.
use super::records::{BadRow, Checked, Problem, RecordRules, read_csv, read_jsonl};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

/// A piece is read once it holds at least this many bytes of whole records.
const PIECE_BYTES: usize = 1 << 20;

pub struct Pieces<'d> {
    format: Format,
    rules: &'d RecordRules<'d>,
    /// Finds where CSV records end with the csv crate's own rules (quoted line breaks).
    csv: csv_core::Reader,
    /// Bytes not read yet; they start at a record boundary.
    buffer: Vec<u8>,
    /// How much of `buffer` the CSV scanner has seen.
    scanned: usize,
    /// The end of the last whole record in `buffer`.
    complete: usize,
    /// The CSV header record with its line break, put in front of every later piece.
    header: Option<Vec<u8>>,
    /// Whether a piece was read already (the first one carries the header itself).
    started: bool,
    /// Line breaks in the body before `buffer`.
    lines_before: u64,
}

impl<'d> Pieces<'d> {
    pub fn new(format: Format, rules: &'d RecordRules<'d>) -> Self {
        Self {
            format,
            rules,
            csv: csv_core::Reader::new(),
            buffer: Vec::new(),
            scanned: 0,
            complete: 0,
            header: None,
            started: false,
            lines_before: 0,
        }
    }

    /// Takes the next bytes of the body; returns a piece, read and checked, once one is whole.
    pub fn feed(&mut self, bytes: &[u8]) -> Option<Checked> {
        self.buffer.extend_from_slice(bytes);
        match self.format {
            Format::Jsonl => {
                if let Some(at) = self.buffer.iter().rposition(|b| *b == b'\n') {
                    self.complete = at + 1;
                }
            }
            Format::Csv => self.scan_csv(),
        }
        if self.complete < PIECE_BYTES {
            return None;
        }
        Some(self.read(self.complete))
    }

    /// What is left, at the end of the body.
    pub fn finish(mut self) -> Checked {
        self.read(self.buffer.len())
    }

    fn scan_csv(&mut self) {
        // Only the record boundaries matter: the fields are read again by `read_csv`.
        let (mut fields, mut ends) = ([0u8; 4096], [0usize; 64]);
        // An empty input would mean the end of the body to the scanner.
        while self.scanned < self.buffer.len() {
            let (result, read, _, _) = self.csv.read_record(&self.buffer[self.scanned..], &mut fields, &mut ends);
            self.scanned += read;
            match result {
                csv_core::ReadRecordResult::Record => {
                    self.complete = self.scanned;
                    if self.header.is_none() {
                        self.header = Some(self.buffer[..self.scanned].to_vec());
                    }
                }
                csv_core::ReadRecordResult::InputEmpty | csv_core::ReadRecordResult::End => break,
                csv_core::ReadRecordResult::OutputFull | csv_core::ReadRecordResult::OutputEndsFull => {}
            }
        }
    }

    /// Reads `buffer[..end]` (whole records) and drops it from the buffer.
    fn read(&mut self, end: usize) -> Checked {
        let piece: Vec<u8> = self.buffer.drain(..end).collect();
        self.scanned = self.scanned.saturating_sub(end);
        self.complete = self.complete.saturating_sub(end);
        let lines_before = self.lines_before;
        self.lines_before += line_breaks(&piece);
        let first = !std::mem::replace(&mut self.started, true);
        let text = match std::str::from_utf8(&piece) {
            Ok(text) => text,
            Err(e) => {
                let line = lines_before + line_breaks(&piece[..e.valid_up_to()]) + 1;
                let bad = vec![BadRow { line, problem: Problem::row("the text is not UTF-8") }];
                return Checked { rows: Vec::new(), bad };
            }
        };
        // The line of the piece's line `n` in the whole body: a later CSV piece starts
        // with the header's lines.
        let (checked, prefix) = match (self.format, &self.header) {
            (Format::Jsonl, _) => (read_jsonl(text, self.rules), 0),
            (Format::Csv, Some(header)) if !first => {
                if text.trim().is_empty() {
                    return Checked::default();
                }
                let mut with_header = String::from_utf8_lossy(header).into_owned();
                with_header.push_str(text);
                (read_csv(&with_header, self.rules), line_breaks(header))
            }
            (Format::Csv, _) => (read_csv(text, self.rules), 0),
        };
        let place = |n: u64| (n + lines_before).saturating_sub(prefix);
        Checked {
            rows: checked.rows.into_iter().map(|(n, row)| (place(n), row)).collect(),
            bad: checked.bad.into_iter().map(|b| BadRow { line: place(b.line), ..b }).collect(),
        }
    }
}

fn line_breaks(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DirectoryConfig};

    fn config() -> Config {
        let directory = DirectoryConfig { name: "employees".into(), identifiers: vec!["employee_number".into()] };
        Config { directories: vec![directory], flows: Vec::new(), ..Default::default() }
    }

    fn keys(checked: Checked) -> Result<Vec<(u64, String)>, Vec<BadRow>> {
        checked.all_or_nothing().map(|rows| rows.into_iter().map(|(line, row)| (line, row.key)).collect())
    }

    /// The body fed `step` bytes at a time, read in pieces.
    fn pieces(format: Format, body: &str, step: usize) -> Result<Vec<(u64, String)>, Vec<BadRow>> {
        let config = config();
        let rules = RecordRules::new(&config, &config.directories[0]);
        let mut pieces = Pieces::new(format, &rules);
        let mut all = Checked::default();
        for chunk in body.as_bytes().chunks(step) {
            if let Some(more) = pieces.feed(chunk) {
                all.rows.extend(more.rows);
                all.bad.extend(more.bad);
            }
        }
        let last = pieces.finish();
        all.rows.extend(last.rows);
        all.bad.extend(last.bad);
        keys(all)
    }

    fn whole(format: Format, body: &str) -> Result<Vec<(u64, String)>, Vec<BadRow>> {
        let config = config();
        let rules = RecordRules::new(&config, &config.directories[0]);
        keys(match format {
            Format::Csv => read_csv(body, &rules),
            Format::Jsonl => read_jsonl(body, &rules),
        })
    }

    fn csv_body(rows: usize) -> String {
        let mut body = String::from("employee_number,name,\"note\"\r\n");
        for i in 0..rows {
            // Every 7th row has a quoted line break, so records and lines differ.
            let note = if i % 7 == 0 { "\"two\nlines\"" } else { "plain" };
            body.push_str(&format!("{},Name {i},{note}\r\n", 1000 + i));
        }
        body
    }

    #[test]
    fn csv_pieces_give_the_rows_and_lines_of_the_whole_file() {
        let body = csv_body(120_000);
        assert!(body.len() > 2 * PIECE_BYTES, "the body spans several pieces");
        assert_eq!(pieces(Format::Csv, &body, 8191).expect("valid"), whole(Format::Csv, &body).expect("valid"));
    }

    #[test]
    fn jsonl_pieces_give_the_rows_and_lines_of_the_whole_file() {
        let mut body = String::new();
        for i in 0..40_000 {
            body.push_str(&format!("{{\"fields\": {{\"employee_number\": \"{}\", \"name\": \"N {i}\"}}}}\n", 1000 + i));
            if i % 5 == 0 {
                body.push('\n');
            }
        }
        assert_eq!(pieces(Format::Jsonl, &body, 10_000).expect("valid"), whole(Format::Jsonl, &body).expect("valid"));
    }

    #[test]
    fn a_bad_row_in_a_later_piece_is_reported_at_its_line_in_the_body() {
        let mut body = csv_body(120_000);
        body.push_str("9999999,Bad,x,extra\r\n");
        let expected = whole(Format::Csv, &body).expect_err("a row with too many fields");
        let got = pieces(Format::Csv, &body, 4096).expect_err("rejected");
        assert_eq!(got, expected);
        assert!(expected[0].line > 120_000);
    }
}
