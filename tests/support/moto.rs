//! One moto server per test binary, started on first use on a free loopback port.
//!
//! The server is started through `scripts/moto_server.py`, which stops when its
//! standard input closes; this process holds that pipe open until it exits, so the
//! server never outlives the tests, whichever way they end.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::workspace_root;

const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Moto {
    url: String,
    /// Kept open for the life of the process: closing it stops the server.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

impl Moto {
    /// The emulator for this test binary. Panics, saying how to install it, if it cannot start.
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(|| Moto::start().unwrap_or_else(|reason| panic!("{reason}")))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn start() -> Result<Moto, String> {
        let python = python();
        let script = workspace_root().join("scripts/moto_server.py");
        let how_to_fix = "run `make test` (or `make venv`), which installs the pinned moto[server] into .venv, \
                          or set MOTO_PYTHON to a Python that has it";
        let mut child = Command::new(&python)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| format!("cannot start the moto server with {}: {err}; {how_to_fix}", python.display()))?;
        let stdin = child.stdin.take().ok_or("no stdin pipe to the moto server")?;
        let stdout = child.stdout.take().ok_or("no stdout pipe from the moto server")?;

        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first_line = String::new();
            let read = BufReader::new(stdout).read_line(&mut first_line);
            let _ = sender.send(read.map(|_| first_line));
        });
        let line = match receiver.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(err)) => return Err(format!("reading from the moto server failed: {err}; {how_to_fix}")),
            Err(_) => return Err(format!("the moto server did not start within {START_TIMEOUT:?}; {how_to_fix}")),
        };
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| {
                let status = child.try_wait().ok().flatten();
                format!("the moto server failed to start (exit status {status:?}, said {line:?}); {how_to_fix}")
            })?
            .to_owned();
        Ok(Moto { url, _stdin: Mutex::new(stdin), _child: Mutex::new(child) })
    }
}

/// The Python with moto installed: `MOTO_PYTHON`, or the repository's `.venv`.
pub fn python() -> PathBuf {
    std::env::var_os("MOTO_PYTHON").map(PathBuf::from).unwrap_or_else(|| workspace_root().join(".venv/bin/python"))
}
