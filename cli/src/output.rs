//! Output files that appear under their final name only when complete.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A buffered output that is either stdout or a file written under a temporary
/// name in the same directory and renamed into place by [`Output::commit`].
/// Dropping it without a commit removes the temporary file, so a failed or
/// interrupted run never leaves a half-written file under the final name.
pub struct Output {
    sink: Sink,
}

enum Sink {
    Stdout(BufWriter<io::Stdout>),
    /// A target that is not a regular file (`/dev/null`, a FIFO): written in
    /// place, since renaming over it would replace the device.
    Special(BufWriter<File>),
    File {
        writer: Option<BufWriter<File>>,
        temp: PathBuf,
        path: PathBuf,
    },
}

impl Output {
    /// Opens `path` for writing (through a temporary file), or stdout when `None`.
    pub fn create(path: Option<&Path>) -> anyhow::Result<Output> {
        let sink = match path {
            None => Sink::Stdout(BufWriter::with_capacity(1 << 20, io::stdout())),
            Some(path) if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("failed to open {}", path.display()))?;
                Sink::Special(BufWriter::with_capacity(1 << 20, file))
            }
            Some(path) => {
                let temp = temp_name(path);
                let file = File::create(&temp)
                    .with_context(|| format!("failed to create {}", temp.display()))?;
                Sink::File {
                    writer: Some(BufWriter::with_capacity(1 << 20, file)),
                    temp,
                    path: path.to_path_buf(),
                }
            }
        };
        Ok(Output { sink })
    }

    /// Flushes, syncs and renames the temporary file to its final name.
    pub fn commit(mut self) -> anyhow::Result<()> {
        match &mut self.sink {
            Sink::Stdout(writer) => writer.flush().context("failed to write to stdout"),
            Sink::Special(writer) => writer.flush().context("failed to write output"),
            Sink::File { writer, temp, path } => {
                let writer = writer.take().expect("commit is called once");
                let file = writer
                    .into_inner()
                    .map_err(|err| err.into_error())
                    .with_context(|| format!("failed to write {}", temp.display()))?;
                file.sync_all()
                    .with_context(|| format!("failed to sync {}", temp.display()))?;
                std::fs::rename(&*temp, &*path).with_context(|| {
                    format!("failed to rename {} to {}", temp.display(), path.display())
                })?;
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Stdout(writer) => writer.write(buf),
            Sink::Special(writer) => writer.write(buf),
            Sink::File { writer, .. } => writer.as_mut().map_or(Ok(0), |w| w.write(buf)),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout(writer) => writer.write_all(buf),
            Sink::Special(writer) => writer.write_all(buf),
            Sink::File { writer, .. } => writer.as_mut().map_or(Ok(()), |w| w.write_all(buf)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout(writer) => writer.flush(),
            Sink::Special(writer) => writer.flush(),
            Sink::File { writer, .. } => writer.as_mut().map_or(Ok(()), |w| w.flush()),
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Sink::File { writer, temp, .. } = &mut self.sink
            && writer.take().is_some()
        {
            // Not committed: remove the partial file.
            let _ = std::fs::remove_file(&*temp);
        }
    }
}

/// Returns `dir/.name.tmp-PID` for `dir/name`.
fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_output_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        {
            let mut out = Output::create(Some(&path)).unwrap();
            out.write_all(b"partial").unwrap();
        }
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    // Renaming a temporary file over /dev/null used to replace the device.
    #[test]
    fn special_files_are_written_in_place() {
        let mut out = Output::create(Some(Path::new("/dev/null"))).unwrap();
        out.write_all(b"discarded\n").unwrap();
        out.commit().unwrap();
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert!(!meta.is_file(), "/dev/null is still a device");
    }

    #[test]
    fn committed_output_appears_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let mut out = Output::create(Some(&path)).unwrap();
        out.write_all(b"line\n").unwrap();
        assert!(!path.exists());
        out.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"line\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
