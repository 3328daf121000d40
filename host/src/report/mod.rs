//! Reports: rendering what the store returns (and what a run reports) as
//! tables, JSON, CSV, HTML, SARIF, OCSF or JUnit XML, to a terminal or a
//! file (`docs/output-formats.md`). Reports never query
//! plugins, never re-read raw input, and never send anything off the
//! machine (that is `notify`).

pub mod alerts;
pub mod asff;
pub mod compliance;
pub mod coverage;
pub mod diff;
pub mod exchange;
pub mod findings;
pub mod html;
mod json;
pub mod junit;
pub mod ocsf;
pub mod plugins;
pub mod prune;
pub mod rules;
pub mod sarif;
pub mod securityhub;
pub mod suite;
pub mod summary;
pub mod terminal;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::OnceLock;

use comfy_table::ContentArrangement;
use comfy_table::presets::UTF8_BORDERS_ONLY;

pub use terminal::{Table, TerminalWriter, escape_control, safe};

/// Output format of data commands.
///
/// `Table` is a table for people, as wide as the terminal; `Json` the rows
/// as pretty-printed JSON; `Csv` a header and one record per row. `Sarif`
/// (SARIF 2.1.0), `Ocsf` (OCSF 1.5.0) and `Junit` (JUnit XML) are the
/// interchange formats of findings and alerts ([`sarif`], [`ocsf`],
/// [`junit`]); a command that cannot write one refuses it ([`unsupported`]).
/// The variants carry no doc comments of their own: clap would show them in
/// the help of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[allow(missing_docs)]
pub enum Format {
    Table,
    Json,
    Csv,
    Sarif,
    Ocsf,
    Junit,
    Asff,
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Sarif => "sarif",
            Format::Ocsf => "ocsf",
            Format::Junit => "junit",
            Format::Asff => "asff",
        }
    }
}

/// The error of a format a command cannot write: which, for what, and what
/// to use instead.
pub fn unsupported(format: Format, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "--format {} is not available for {what}; use table, json or csv",
            format.name()
        ),
    )
}

/// Where data goes: `--output FILE`, else stdout.
pub fn open_output(path: Option<&Path>) -> io::Result<Box<dyn Write>> {
    match path {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            Ok(Box::new(BufWriter::new(File::create(p)?)))
        }
        None => Ok(Box::new(BufWriter::new(io::stdout().lock()))),
    }
}

/// What the settings say about the terminal: colour (`NO_COLOR`) and the
/// width of tables when stdout is not a terminal (`COLUMNS`).
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// Colour allowed.
    pub color: bool,
    /// Table width when stdout is not a terminal.
    pub columns: usize,
}

static TERMINAL: OnceLock<Terminal> = OnceLock::new();

/// Set the terminal settings, once per process (the CLI does, from `Settings`).
pub fn configure(terminal: Terminal) {
    let _ = TERMINAL.set(terminal);
}

fn terminal() -> Terminal {
    TERMINAL.get().copied().unwrap_or(Terminal {
        color: true,
        columns: crate::settings::DEFAULT_COLUMNS,
    })
}

/// Colour only for a terminal, and never when `NO_COLOR` is set.
pub fn use_color(to_file: bool) -> bool {
    !to_file && terminal().color && io::stdout().is_terminal()
}

/// A table in the house style, as wide as the terminal allows (or
/// `COLUMNS`, or 160 columns when the output is not a terminal). Every cell
/// added is escaped for the terminal ([`terminal`]).
pub fn table(header: &[&str]) -> Table {
    let mut t = comfy_table::Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    if !io::stdout().is_terminal() {
        t.set_width(terminal().columns.min(u16::MAX as usize) as u16);
    }
    Table::new(t)
}

/// Write `value` as pretty-printed JSON and a newline. Serialised as it is
/// written (nothing is built in memory first), with the control characters
/// JSON allows raw (DEL, C1, bidirectional overrides) escaped as `\uXXXX`
/// too, so that JSON on a terminal is as safe as a table.
pub fn write_json<T: serde::Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, json::SafeFormatter::new());
    value.serialize(&mut ser).map_err(io::Error::other)?;
    writeln!(out)
}

/// Write rows as CSV with a header. Every cell is defused for spreadsheets
/// ([`csv_cell`]).
pub fn write_csv(
    out: &mut dyn Write,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> io::Result<()> {
    let mut w = CsvOut::new(out, header)?;
    for row in rows {
        w.row(&row)?;
    }
    w.finish()
}

/// CSV written a record at a time (for rows that stream from the store),
/// every cell defused ([`csv_cell`]).
pub struct CsvOut<'a> {
    w: csv::Writer<&'a mut dyn Write>,
}

impl<'a> CsvOut<'a> {
    /// Start with the header.
    pub fn new(out: &'a mut dyn Write, header: &[&str]) -> io::Result<CsvOut<'a>> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(header).map_err(io::Error::other)?;
        Ok(CsvOut { w })
    }

    /// One record.
    pub fn row(&mut self, cells: &[String]) -> io::Result<()> {
        self.w
            .write_record(cells.iter().map(|c| csv_cell(c).into_owned().into_bytes()))
            .map_err(io::Error::other)
    }

    /// Flush what is buffered.
    pub fn finish(mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// A CSV cell a spreadsheet will not run: control characters escaped (as on
/// a terminal), and a cell that starts like a formula (`=`, `+`, `-`, `@`,
/// tab, carriage return) prefixed with `'`, as OWASP's guidance on CSV
/// injection recommends. Everything else is kept as it is.
pub fn csv_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let text = escape_control(cell);
    if formula {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_that_start_like_formulas_are_defused() {
        for bad in ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(
                csv_cell(bad).starts_with('\''),
                "{bad:?} -> {}",
                csv_cell(bad)
            );
        }
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(csv_cell("plain a=b"), "plain a=b");
        assert_eq!(csv_cell("é 東京"), "é 東京");
        assert_eq!(csv_cell("bell\u{7}"), "bell\\u{7}");
        let mut out = Vec::new();
        write_csv(
            &mut out,
            &["a", "b"],
            [vec!["=cmd|' /C calc'!A0".to_string(), "ok".to_string()]].into_iter(),
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "a,b\n'=cmd|' /C calc'!A0,ok\n");
    }
}
