//! Reports: rendering what the store returns (and what a run reports) as
//! tables, JSON, CSV or HTML, to a terminal or a file. Reports never query
//! plugins, never re-read raw input, and never send anything off the
//! machine (that is `notify`).

pub mod alerts;
pub mod compliance;
pub mod coverage;
pub mod findings;
pub mod html;
pub mod plugins;
pub mod rules;
pub mod suite;
pub mod summary;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::OnceLock;

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};

/// Output format of data commands.
///
/// `Table` is a table for people, as wide as the terminal; `Json` the rows
/// as pretty-printed JSON; `Csv` a header and one record per row. The
/// variants carry no doc comments of their own: clap would show them in the
/// help of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[allow(missing_docs)]
pub enum Format {
    Table,
    Json,
    Csv,
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
/// `COLUMNS`, or 160 columns when the output is not a terminal).
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    if !io::stdout().is_terminal() {
        t.set_width(terminal().columns.min(u16::MAX as usize) as u16);
    }
    t
}

/// Write `value` as pretty-printed JSON and a newline.
pub fn write_json<T: serde::Serialize>(out: &mut dyn Write, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
    writeln!(out)
}

/// Write rows as CSV with a header.
pub fn write_csv(
    out: &mut dyn Write,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(header).map_err(io::Error::other)?;
    for row in rows {
        w.write_record(&row).map_err(io::Error::other)?;
    }
    w.flush()
}
