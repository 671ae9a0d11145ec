//! `pycoroner run -- CMD ARGS...`: the command runs traced (see
//! `pycoroner_process::tracer`); each process of its tree that takes a fatal signal,
//! or is still running at `--timeout`, is read at that instant. Its report goes to
//! stderr right then, and into the report directory as JSON, Markdown and JUnit XML
//! (the Markdown appended to `$GITHUB_STEP_SUMMARY` when set). The exit status is the
//! command's own.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use pycoroner::NativeMode;
use pycoroner_process::tracer::{self, RunError, RunOptions, Why};
use pycoroner_process::{LiveProcess, Target};

use crate::args::Common;
use crate::Failure;

/// Exit statuses a shell gives for a command that is not found, or cannot be run.
const EXIT_NOT_FOUND: u8 = 127;
const EXIT_CANNOT_RUN: u8 = 126;

/// What the run was asked.
pub struct RunArgs {
    pub command: Vec<OsString>,
    pub options: RunOptions,
    pub report_dir: Option<PathBuf>,
}

/// Why a process was read.
enum Kind {
    /// This fatal signal.
    Crash(i32),
    Timeout,
    /// The Nth dump asked for.
    Dump(usize),
}

impl Kind {
    /// `SIGSEGV`, `timeout`, `dump-2`: in file names and the JUnit failure type.
    fn label(&self) -> String {
        match self {
            Kind::Crash(signo) => pycoroner_report::signal_names(*signo).0,
            Kind::Timeout => "timeout".to_string(),
            Kind::Dump(n) => format!("dump-{n}"),
        }
    }
}

/// One thing caught: a process read at a crash, the timeout, or a dump request.
struct Event {
    kind: Kind,
    pid: u32,
    command_line: String,
    /// The report as text, or why there is none.
    text: String,
    /// The report as JSON, when one was made.
    json: Option<String>,
    /// The test pytest was running in it.
    test: Option<String>,
    /// A slim minidump of what the report read.
    dump: Option<Vec<u8>>,
    /// Milliseconds from the stop to the report.
    took_ms: f64,
}

/// Run the command; the status to exit with.
pub fn run(args: RunArgs, common: &Common) -> Result<u8, Failure> {
    let Some((program, rest)) = args.command.split_first() else {
        return Err(Failure::bad_input("give the command to run after `--`"));
    };
    let mut options = crate::options(common);
    // A report is read once, at the crash: it carries values (of the crashing thread
    // only, for a crash) and the native frames of every thread.
    options.locals = true;
    if options.native == NativeMode::Off {
        options.native = NativeMode::Folded;
    }
    let mut events: Vec<Event> = Vec::new();
    let mut dumps = 0usize;
    let mut watch = |process: LiveProcess, why: &Why| {
        let start = Instant::now();
        let pid = process.pid();
        let command_line = Target::command_line(&process).unwrap_or_else(|| format!("pid {pid}"));
        let kind = match why {
            Why::Crash { signal, .. } => Kind::Crash(signal.signo),
            Why::Timeout => Kind::Timeout,
            Why::Dump => {
                dumps += 1;
                Kind::Dump(dumps)
            }
        };
        // A crash shows the values of the thread that crashed; a hang, every thread's.
        let options = pycoroner::Options { locals_crashed_only: matches!(why, Why::Crash { .. }), ..options.clone() };
        // The report goes to stderr as soon as it is made, at the instant it happens
        // (before the process goes on and faulthandler prints); then a slim minidump of
        // what it read is assembled.
        let mut shown: Option<(String, Option<String>, Option<String>, f64)> = None;
        let show = |kind: &Kind, text: &str, test: Option<&str>| {
            let headline = headline(kind, pid, &command_line, test);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "pycoroner run: {headline}\n{text}");
            let _ = err.flush();
        };
        let mut dump = Vec::new();
        let dumped = pycoroner::write_dump_then(&process, &options, &mut dump, &mut |report| {
            // Plain text: the same goes to stderr (often a CI log) and into the files.
            let text = crate::render_text_in(report, common, false);
            let test = report.target.test.clone();
            show(&kind, &text, test.as_deref());
            shown = Some((text, Some(pycoroner_report::render::json::render(report)), test, start.elapsed().as_secs_f64() * 1000.0));
        });
        let (text, json, test, took_ms, dump) = match (shown, dumped) {
            // The report, and the dump when it could be assembled.
            (Some((text, json, test, took)), dumped) => {
                if let Err(e) = &dumped {
                    eprintln!("pycoroner run: no minidump of process {pid}: {e}");
                }
                (text, json, test, took, dumped.ok().map(|_| dump))
            }
            (None, dumped) => {
                let failed = dumped.err();
                let analyzed = match failed {
                    Some(e) if e.is_no_python() => Err(e),
                    _ => pycoroner::analyze(&process, &options),
                };
                let (text, json, test) = match analyzed {
                    Ok(report) => (crate::render_text_in(&report, common, false), Some(pycoroner_report::render::json::render(&report)), report.target.test.clone()),
                    // Not a Python process: what gdb's `bt` would show of each thread.
                    Err(e) if e.is_no_python() => (format!("No Python interpreter in it ({e}); its native stacks:\n\n{}", pycoroner::native_stacks_text(&process, &options)), None, None),
                    Err(e) => (format!("cannot read it: {e}\n"), None, None),
                };
                show(&kind, &text, test.as_deref());
                (text, json, test, start.elapsed().as_secs_f64() * 1000.0, None)
            }
        };
        events.push(Event { kind, pid, command_line, text, json, test, dump, took_ms });
    };
    let outcome = match tracer::run(program, rest, &args.options, &mut watch) {
        Ok(o) => o,
        Err(RunError::NotFound(p)) => {
            eprintln!("pycoroner run: {p}: command not found");
            return Ok(EXIT_NOT_FOUND);
        }
        Err(e @ RunError::Trace(_)) => return Err(Failure::bad_input(e.to_string())),
        Err(e) => {
            eprintln!("pycoroner run: {e}");
            return Ok(EXIT_CANNOT_RUN);
        }
    };
    if let Some(why) = &outcome.untraced {
        eprintln!("pycoroner run: the command ran untraced, so no crash or hang of it could be read: {why} (--require-trace makes this an error)");
    }
    if !events.is_empty() {
        let dir = args.report_dir.unwrap_or_else(|| PathBuf::from("pycoroner-reports"));
        if let Err(e) = write_reports(&dir, &events, &render_status(outcome.exit)) {
            eprintln!("pycoroner run: cannot write the reports to {}: {e} (they are above, on stderr)", dir.display());
        }
    }
    Ok(u8::try_from(outcome.exit.status()).unwrap_or(255))
}

fn headline(kind: &Kind, pid: u32, command_line: &str, test: Option<&str>) -> String {
    let command_line = pycoroner_report::escape::text(command_line);
    let during = test.map(|t| format!(" in test {}", pycoroner_report::escape::text(t))).unwrap_or_default();
    match kind {
        Kind::Timeout => format!("process {pid} ({command_line}) was still running{during} at the timeout"),
        Kind::Dump(_) => format!("process {pid} ({command_line}){during}, as asked"),
        Kind::Crash(signo) => {
            let (name, description) = pycoroner_report::signal_names(*signo);
            format!("process {pid} ({command_line}) got {name} ({description}){during}")
        }
    }
}

fn render_status(exit: tracer::Exit) -> String {
    match exit {
        tracer::Exit::Code(c) => format!("exited with status {c}"),
        tracer::Exit::Signal(s) => format!("was killed by {}", pycoroner_report::signal_names(s).0),
        tracer::Exit::TimedOut => "timed out".to_string(),
    }
}

/// A file in `dir` that did not exist: `name.ext`, else `name.2.ext`, ... (never an
/// existing file or link overwritten).
fn create_new(dir: &Path, name: &str, ext: &str) -> std::io::Result<std::fs::File> {
    for n in 1..1000 {
        let path = if n == 1 { dir.join(format!("{name}.{ext}")) } else { dir.join(format!("{name}.{n}.{ext}")) };
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
            Ok(f) => return Ok(f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!("too many reports named {name} already")))
}

/// A fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

fn markdown(events: &[Event], status: &str) -> String {
    let mut md = String::new();
    for e in events {
        let f = fence(&e.text);
        md.push_str(&format!("### pycoroner: {}\n\n{f}text\n{}{f}\n\n", markdown_inline(&headline(&e.kind, e.pid, &e.command_line, e.test.as_deref())), e.text));
    }
    md.push_str(&format!("The command {status}.\n"));
    md
}

/// Text from the target as plain Markdown text: no HTML, link, emphasis or code span
/// can come out of it.
fn markdown_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            c if entity(c).is_some() => out.push_str(entity(c).unwrap_or_default()),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The character entity HTML and XML both read for `&`, `<`, `>` and `"`.
fn entity(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        _ => None,
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            c if entity(c).is_some() => out.push_str(entity(c).unwrap_or_default()),
            '\n' | '\t' => out.push(c),
            // Not characters XML 1.0 allows.
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            '\u{fffe}' | '\u{ffff}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn junit(events: &[Event]) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!("<testsuites><testsuite name=\"pycoroner run\" tests=\"{0}\" failures=\"{0}\">\n", events.len()));
    for e in events {
        // CI shows a test case by its name: the pytest test that crashed, when known.
        let name = match &e.test {
            Some(t) => format!("{t}: {}", e.kind.label()),
            None => headline(&e.kind, e.pid, &e.command_line, None),
        };
        x.push_str(&format!(
            "<testcase classname=\"pycoroner.run\" name=\"{}\" time=\"{:.3}\"><failure type=\"{}\" message=\"{}\">{}</failure></testcase>\n",
            xml_escape(&name),
            e.took_ms / 1000.0,
            xml_escape(&e.kind.label()),
            xml_escape(&name),
            xml_escape(&e.text)
        ));
    }
    x.push_str("</testsuite></testsuites>\n");
    x
}

fn write_reports(dir: &Path, events: &[Event], status: &str) -> std::io::Result<()> {
    // Reports hold the process's values: private to the user who ran it.
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    for e in events {
        if let Some(json) = &e.json {
            let mut f = create_new(dir, &format!("{}-{}", e.pid, e.kind.label()), "json")?;
            f.write_all(json.as_bytes())?;
            f.write_all(b"\n")?;
        }
        if let Some(dump) = &e.dump {
            create_new(dir, &format!("{}-{}", e.pid, e.kind.label()), "dmp")?.write_all(dump)?;
        }
    }
    let md = markdown(events, status);
    create_new(dir, "report", "md")?.write_all(md.as_bytes())?;
    create_new(dir, "junit", "xml")?.write_all(junit(events).as_bytes())?;
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        std::fs::OpenOptions::new().append(true).create(true).open(summary)?.write_all(md.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_headings_carry_no_markup_from_the_target() {
        assert_eq!(markdown_inline("a <b> [x](y) `z` & *w*"), "a &lt;b&gt; \\[x\\]\\(y\\) \\`z\\` &amp; \\*w\\*");
    }

    #[test]
    fn fences_outgrow_the_text() {
        assert_eq!(fence("plain"), "```");
        assert_eq!(fence("a ```` b"), "`````");
    }

    #[test]
    fn junit_escapes_markup_and_control_characters() {
        let e = Event { kind: Kind::Crash(11), pid: 7, command_line: "python3 <x> & \"y\"".into(), text: "a\u{1}b ]]> <c>\n".into(), json: None, test: None, dump: None, took_ms: 12.0 };
        let x = junit(&[e]);
        assert!(x.contains("python3 &lt;x&gt; &amp; &quot;y&quot;"), "{x}");
        assert!(x.contains("a\\x01b ]]&gt; &lt;c&gt;"), "{x}");
        assert!(!x.contains('\u{1}'));
    }
}
