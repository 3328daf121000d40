//! Reports: rendering stored rows as table, JSON or CSV, to stdout or a
//! file. Reports read what the store returns; they never query plugins or
//! re-read raw input.

pub mod alerts;
pub mod compliance;
pub mod findings;
pub mod html;
pub mod route;
pub mod summary;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};

/// Output format of data commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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

/// Colour only for a terminal, and never when `NO_COLOR` is set.
pub fn use_color(to_file: bool) -> bool {
    !to_file
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && io::stdout().is_terminal()
}

/// A table in the house style, as wide as the terminal allows (or
/// `$COLUMNS`, or 160 columns when the output is not a terminal).
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    if !io::stdout().is_terminal() {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(160);
        t.set_width(width);
    }
    t
}

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
