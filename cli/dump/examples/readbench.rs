//! Reads a dump and prints throughput: MB/s of decompressed XML and pages/s.
//!
//! ```text
//! cargo run --release -p dump --example readbench -- FILE [--threads N] [--index PATH]
//!     [--range START..END] [--raw] [--batches]
//! ```
//! `--raw` only decompresses (no XML parsing); `--sequential` decompresses
//! bz2 with the bzip2 crate's single-threaded `MultiBzDecoder` (the
//! baseline); `--batches` reads through `into_batches` (4 MiB batches, 4 in
//! flight) as the CLI does.

use std::io::Read;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut input = None;
    let mut opts = dump::OpenOptions::default();
    let mut raw = false;
    let mut sequential = false;
    let mut batches = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => {
                let value = args.next().ok_or("--threads needs a value")?;
                opts.threads = value
                    .parse()
                    .map_err(|_| format!("bad thread count {value}"))?;
            }
            "--index" => {
                opts.multistream_index = Some(args.next().ok_or("--index needs a path")?.into())
            }
            "--range" => {
                let value = args.next().ok_or("--range needs START..END")?;
                let (start, end) = value.split_once("..").ok_or("--range needs START..END")?;
                let start = start.parse().map_err(|_| "bad range start")?;
                let end = end.parse().map_err(|_| "bad range end")?;
                opts.range = Some(start..end);
            }
            "--raw" => raw = true,
            "--sequential" => sequential = true,
            "--batches" => batches = true,
            _ => input = Some(dump::Input::parse(&arg)),
        }
    }
    let input = input.ok_or(
        "usage: readbench FILE [--threads N] [--index PATH] [--range A..B] [--raw] [--batches]",
    )?;
    let started = Instant::now();
    let (format, xml_bytes, pages, text_bytes) = if sequential {
        let dump::Input::Path(path) = &input else {
            return Err("--sequential needs a file".to_owned());
        };
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut decoder = bzip2::read::MultiBzDecoder::new(std::io::BufReader::new(file));
        let total = std::io::copy(&mut decoder, &mut std::io::sink()).map_err(|e| e.to_string())?;
        (dump::Format::Bzip2, total, 0, 0)
    } else if raw {
        let mut decompressed = dump::open_decompressed(&input, &opts).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = decompressed.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        (decompressed.format(), total, 0, 0)
    } else if batches {
        let reader = dump::open(&input, &opts).map_err(|e| e.to_string())?;
        let format = reader.format();
        let progress = reader.progress();
        let mut pages = 0u64;
        let mut text_bytes = 0u64;
        for batch in reader.into_batches(4 << 20, 4) {
            let batch = batch.map_err(|e| e.to_string())?;
            pages += batch.len() as u64;
            text_bytes += batch.iter().map(|page| page.text.len() as u64).sum::<u64>();
        }
        (format, progress.xml_bytes(), pages, text_bytes)
    } else {
        let mut reader = dump::open(&input, &opts).map_err(|e| e.to_string())?;
        let mut pages = 0u64;
        let mut text_bytes = 0u64;
        while let Some(page) = reader.next_page().map_err(|e| e.to_string())? {
            pages += 1;
            text_bytes += page.text.len() as u64;
        }
        (
            reader.format(),
            reader.progress().xml_bytes(),
            pages,
            text_bytes,
        )
    };
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}: {format:?}, {:.1} MB XML, {pages} pages, {:.1} MB text in {seconds:.2} s: {:.1} MB/s XML, {:.0} pages/s",
        input.display_name(),
        xml_bytes as f64 / 1e6,
        text_bytes as f64 / 1e6,
        xml_bytes as f64 / 1e6 / seconds,
        pages as f64 / seconds,
    );
    Ok(())
}
