//! `stance plugin build`: turn a project into a component with its
//! language's own toolchain (cargo for wasm32-wasip2, componentize-py,
//! esbuild + componentize-js), check it loads as a plugin of the project's
//! world and WIT version, and embed the build metadata.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::metadata::{self, BuildInfo};
use super::sdk::{self, Sdk};
use crate::catalog::{Lang, MANIFEST, Project};
use crate::runtime::{
    DetectorPlugin, Limits, PluginSource, PolicyPlugin, Runtime, WIT_VERSION, World,
};

/// The toolchain versions the SDKs are tested with (what a missing tool's
/// message tells the user to install).
pub const COMPONENTIZE_PY: &str = "0.25.1";
/// The `@bytecodealliance/componentize-js` version of JavaScript projects.
pub const COMPONENTIZE_JS: &str = "0.23.0";
/// The esbuild version that bundles a JavaScript project before componentize-js.
pub const ESBUILD: &str = "0.28.2";

/// Why `stance plugin build` failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The project's manifest could not be read.
    #[error("{0}")]
    Project(#[from] super::ProjectError),
    /// No plugin SDK was found for the project's language.
    #[error("{0}")]
    Sdk(#[from] sdk::SdkError),
    /// A toolchain the language needs is not on the search path.
    #[error("{project}: {tool} is not installed: {install}")]
    Missing {
        /// The project directory.
        project: PathBuf,
        /// The missing tool: `cargo`, `componentize-py`, `esbuild` or `componentize-js`.
        tool: String,
        /// How to install it, with the version to install.
        install: String,
    },
    /// A toolchain command exited unsuccessfully.
    #[error("{project}: {tool} failed ({status}){hint}\n{tail}")]
    Tool {
        /// The project directory.
        project: PathBuf,
        /// The command that failed (`cargo build`, `componentize-py`, `esbuild`, ...).
        tool: String,
        /// Its exit status, as the OS reports it.
        status: String,
        /// What to do, read from its output (`; ...`); empty when nothing is known.
        hint: String,
        /// The last 40 lines of its output, or a pointer to it when it was echoed.
        tail: String,
    },
    /// The toolchain succeeded but left no component where expected.
    #[error("{project}: the build produced no component ({detail})")]
    NoOutput {
        /// The project directory.
        project: PathBuf,
        /// What was missing, and what to change.
        detail: String,
    },
    /// The component was built but does not load as a plugin of the project's
    /// world (or its metadata could not be embedded).
    #[error("{project}: the component does not load as a Stance plugin: {message}")]
    Invalid {
        /// The project directory.
        project: PathBuf,
        /// The loader's error.
        message: String,
    },
    /// Reading or writing a file, or starting a process, failed.
    #[error("{path}: {source}")]
    Io {
        /// The file, directory or program concerned.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Options of one build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--sdk`: the sdk/ directory of a Stance checkout.
    pub sdk: Option<PathBuf>,
    /// `STANCE_SDK_DIR` (`Settings::sdk_dir`), when no `--sdk` is given.
    pub sdk_setting: Option<PathBuf>,
    /// Where toolchains are looked for (`PATH`).
    pub search_path: std::ffi::OsString,
    /// Rebuild even when the component is up to date.
    pub force: bool,
    /// Echo the toolchain's output on stderr.
    pub verbose: bool,
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct Built {
    /// The component file (`dist/NAME.wasm` in the project).
    pub path: PathBuf,
    /// The build metadata embedded in the component.
    pub info: BuildInfo,
    /// The component's size in bytes.
    pub bytes: usize,
    /// False when the sources had not changed since the last build.
    pub rebuilt: bool,
    /// How long the toolchain took; zero when nothing was rebuilt.
    pub build_time: Duration,
    /// Rules the plugin declared in `describe`.
    pub rules: usize,
}

/// Build `project` unless its component is up to date.
pub fn build(project: &Project, opts: &BuildOptions, rt: &Runtime) -> Result<Built, BuildError> {
    let sdk = Sdk::locate(opts.sdk.as_deref(), opts.sdk_setting.as_deref())?;
    let sdk_dir = sdk.dir(project.lang);
    let stance = env!("CARGO_PKG_VERSION");
    let digest = super::digest::source_digest(project, &[&sdk_dir], &[sdk::WIT, stance]).map_err(
        |source| BuildError::Io {
            path: project.dir.clone(),
            source,
        },
    )?;
    let out = project.component_path();
    if !opts.force
        && let Ok(bytes) = std::fs::read(&out)
        && let Some(info) = metadata::read(&bytes)
        && info.source_digest == digest
    {
        let rules = check(project, rt, &bytes)?;
        return Ok(Built {
            path: out,
            info,
            bytes: bytes.len(),
            rebuilt: false,
            build_time: Duration::ZERO,
            rules,
        });
    }

    let started = Instant::now();
    let work = tempfile::tempdir().map_err(|source| BuildError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let wit_dir = sdk::write_wit(&work.path().join("wit")).map_err(|source| BuildError::Io {
        path: work.path().to_path_buf(),
        source,
    })?;
    let (raw, toolchain) = match project.lang {
        Lang::Rust => build_rust(project, opts)?,
        Lang::Python => build_python(project, opts, &sdk_dir, &wit_dir, work.path())?,
        Lang::Js => build_js(project, opts, &sdk_dir, &wit_dir, work.path())?,
    };
    let info = BuildInfo {
        name: project.name.clone(),
        version: project.version.clone(),
        lang: project.lang.as_str().into(),
        world: project.world.as_str().into(),
        wit: WIT_VERSION.into(),
        source_digest: digest,
        toolchain,
        stance: stance.into(),
    };
    let bytes = metadata::embed(&raw, &info).map_err(|message| BuildError::Invalid {
        project: project.dir.clone(),
        message,
    })?;
    let rules = check(project, rt, &bytes)?;
    write_atomic(&out, &bytes)?;
    Ok(Built {
        path: out,
        info,
        bytes: bytes.len(),
        rebuilt: true,
        build_time: started.elapsed(),
        rules,
    })
}

/// Load the component as the host will: the project's world, a compatible
/// WIT version, only granted imports, `describe` accepted with the
/// manifest's settings, and the name and version the manifest gives.
fn check(project: &Project, rt: &Runtime, bytes: &[u8]) -> Result<usize, BuildError> {
    let src = PluginSource {
        origin: project.component_path().display().to_string(),
        bytes: bytes.into(),
        settings: project.settings.clone(),
        limits: project.limits(Limits::default()),
        reuse: crate::runtime::Reuse::stateless(project.stateless),
    };
    let invalid = |message: String| BuildError::Invalid {
        project: project.dir.clone(),
        message,
    };
    let (name, version, rules) = match project.world {
        World::Policy => {
            let p = PolicyPlugin::load(rt, src).map_err(|e| invalid(e.to_string()))?;
            (p.name.clone(), p.version.clone(), p.rules.len())
        }
        World::Detector => {
            let p = DetectorPlugin::load(rt, src).map_err(|e| invalid(e.to_string()))?;
            (p.name.clone(), p.version.clone(), p.rules.len())
        }
    };
    if name != project.name || version != project.version {
        return Err(invalid(format!(
            "describe() says {name} {version}, but {} says {} {}; make them agree",
            MANIFEST, project.name, project.version
        )));
    }
    Ok(rules)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let io = |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("component")
    ));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn build_rust(project: &Project, opts: &BuildOptions) -> Result<(Vec<u8>, String), BuildError> {
    let cargo = find_tool("cargo", &[], &opts.search_path).ok_or_else(|| BuildError::Missing {
        project: project.dir.clone(),
        tool: "cargo".into(),
        install:
            "install Rust with rustup (https://rustup.rs), then `rustup target add wasm32-wasip2`"
                .into(),
    })?;
    let version = tool_version(&cargo, &["--version"], &project.dir);
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&project.dir).args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--message-format=json-render-diagnostics",
    ]);
    // A plugin built from inside another cargo invocation must not inherit
    // that build's flags.
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
        cmd.env_remove(var);
    }
    let (stdout, _) = run(project, cmd, "cargo build", opts.verbose, |tail| {
        if tail.contains("wasm32-wasip2")
            && (tail.contains("may not be installed")
                || tail.contains("can't find crate for `core`")
                || tail.contains("can't find crate for `std`"))
        {
            "; the wasm32-wasip2 target is missing: rustup target add wasm32-wasip2".into()
        } else {
            String::new()
        }
    })?;
    let manifest = project
        .dir
        .join("Cargo.toml")
        .canonicalize()
        .unwrap_or_else(|_| project.dir.join("Cargo.toml"));
    let mut wasm = None;
    for line in stdout.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact"
            || msg["manifest_path"].as_str().map(PathBuf::from).as_deref()
                != Some(manifest.as_path())
        {
            continue;
        }
        let cdylib = msg["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
        if !cdylib {
            continue;
        }
        wasm = msg["filenames"].as_array().and_then(|f| {
            f.iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from)
        });
    }
    let wasm = wasm.ok_or_else(|| BuildError::NoOutput {
        project: project.dir.clone(),
        detail: "cargo built no cdylib .wasm; Cargo.toml needs [lib] crate-type = [\"cdylib\"]"
            .into(),
    })?;
    let bytes = std::fs::read(&wasm).map_err(|source| BuildError::Io {
        path: wasm.clone(),
        source,
    })?;
    Ok((bytes, version))
}

fn build_python(
    project: &Project,
    opts: &BuildOptions,
    sdk_dir: &Path,
    wit_dir: &Path,
    work: &Path,
) -> Result<(Vec<u8>, String), BuildError> {
    let local_venv = [project.dir.join(".venv/bin"), project.dir.join("venv/bin")];
    let tool = find_tool("componentize-py", &local_venv, &opts.search_path).ok_or_else(|| BuildError::Missing {
        project: project.dir.clone(),
        tool: "componentize-py".into(),
        install: format!(
            "pip install componentize-py=={COMPONENTIZE_PY} (into a venv on PATH, or into {}/.venv)",
            project.dir.display()
        ),
    })?;
    let entry = project.entry.trim_end_matches(".py");
    if !project.dir.join(format!("{entry}.py")).is_file()
        && !project.dir.join(entry).join("__init__.py").is_file()
    {
        return Err(BuildError::NoOutput {
            project: project.dir.clone(),
            detail: format!(
                "entry = {:?} in {}: there is no {entry}.py",
                project.entry, MANIFEST
            ),
        });
    }
    let version = tool_version(&tool, &["--version"], &project.dir);
    let out = work.join("component.wasm");
    let mut cmd = Command::new(&tool);
    cmd.current_dir(&project.dir)
        .arg("-d")
        .arg(wit_dir)
        .arg("-w")
        .arg(project.world.as_str())
        .arg("componentize")
        .arg(entry)
        .arg("-p")
        .arg(&project.dir)
        .arg("-p")
        .arg(sdk_dir)
        .arg("-o")
        .arg(&out);
    run(project, cmd, "componentize-py", opts.verbose, |tail| {
        if tail.contains("ModuleNotFoundError") || tail.contains("ImportError") {
            "; a module could not be imported: dependencies must be pure Python and on the project's path".into()
        } else {
            String::new()
        }
    })?;
    let bytes = std::fs::read(&out).map_err(|source| BuildError::Io { path: out, source })?;
    Ok((bytes, version))
}

fn build_js(
    project: &Project,
    opts: &BuildOptions,
    sdk_dir: &Path,
    wit_dir: &Path,
    work: &Path,
) -> Result<(Vec<u8>, String), BuildError> {
    let missing = |tool: &str, install: String| BuildError::Missing {
        project: project.dir.clone(),
        tool: tool.into(),
        install,
    };
    find_tool("node", &[], &opts.search_path).ok_or_else(|| {
        missing(
            "Node.js",
            "install Node.js 20 or later (node must be on PATH)".into(),
        )
    })?;
    let npm_install = format!(
        "run `npm install` in {} (its package.json pins @bytecodealliance/componentize-js {COMPONENTIZE_JS}, @bytecodealliance/preview2-shim and esbuild {ESBUILD})",
        project.dir.display()
    );
    let bins = node_bin_dirs(&project.dir, sdk_dir);
    let esbuild = find_tool("esbuild", &bins, &opts.search_path)
        .ok_or_else(|| missing("esbuild", npm_install.clone()))?;
    let componentize = find_tool("componentize-js", &bins, &opts.search_path)
        .ok_or_else(|| missing("componentize-js", npm_install.clone()))?;
    let entry = project.dir.join(&project.entry);
    if !entry.is_file() {
        return Err(BuildError::NoOutput {
            project: project.dir.clone(),
            detail: format!("entry = {:?} in {}: no such file", project.entry, MANIFEST),
        });
    }
    let bundle = work.join("bundle.js");
    let mut cmd = Command::new(&esbuild);
    cmd.current_dir(&project.dir)
        .arg(&entry)
        .args([
            "--bundle",
            "--format=esm",
            "--platform=neutral",
            "--main-fields=module,main",
            "--external:stance:plugin/*",
            "--log-level=warning",
        ])
        .arg(format!("--outfile={}", bundle.display()));
    run(project, cmd, "esbuild", opts.verbose, |tail| {
        if tail.contains("Could not resolve \"stance-sdk\"") {
            format!("; the SDK is not installed: {npm_install}")
        } else {
            String::new()
        }
    })?;
    let out = work.join("component.wasm");
    let mut cmd = Command::new(&componentize);
    cmd.current_dir(&project.dir)
        .arg("--wit")
        .arg(wit_dir)
        .arg("--world-name")
        .arg(project.world.as_str())
        // No wasi:http (the host grants no network); clocks, random and
        // stdio stay, linked by the host to its empty, deterministic WASI.
        .args(["--disable", "http", "fetch-event"])
        .arg("--out")
        .arg(&out)
        .arg(&bundle);
    run(project, cmd, "componentize-js", opts.verbose, |_| {
        String::new()
    })?;
    let version = package_version(&componentize, "@bytecodealliance/componentize-js")
        .map(|v| format!("componentize-js {v}"))
        .unwrap_or_else(|| "componentize-js".into());
    let bytes = std::fs::read(&out).map_err(|source| BuildError::Io { path: out, source })?;
    Ok((bytes, version))
}

/// `node_modules/.bin` of the project and its ancestors, then of the JS SDK.
fn node_bin_dirs(project: &Path, sdk_js: &Path) -> Vec<PathBuf> {
    let abs = project
        .canonicalize()
        .unwrap_or_else(|_| project.to_path_buf());
    abs.ancestors()
        .map(|d| d.join("node_modules/.bin"))
        .chain(std::iter::once(sdk_js.join("node_modules/.bin")))
        .collect()
}

/// The version of the npm package a `.bin` entry belongs to.
fn package_version(bin: &Path, package: &str) -> Option<String> {
    let node_modules = bin.parent()?.parent()?;
    let text = std::fs::read_to_string(node_modules.join(package).join("package.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["version"].as_str().map(str::to_string)
}

/// The first `name` found in `dirs`, then on the search path (`PATH`).
pub fn find_tool(name: &str, dirs: &[PathBuf], search_path: &std::ffi::OsStr) -> Option<PathBuf> {
    dirs.iter()
        .cloned()
        .chain(std::env::split_paths(search_path))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `tool ARGS` first line of output, or the tool's name.
fn tool_version(tool: &Path, args: &[&str], dir: &Path) -> String {
    Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_string())
        })
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| {
            tool.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
}

/// Run a toolchain command: stderr streams to ours when `verbose` and is
/// kept for the error message; stdout is returned. `hint` reads the output
/// tail of a failure and may add what to do.
fn run(
    project: &Project,
    mut cmd: Command,
    tool: &str,
    verbose: bool,
    hint: impl Fn(&str) -> String,
) -> Result<(String, String), BuildError> {
    tracing::info!("running {cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BuildError::Io {
            path: PathBuf::from(cmd.get_program()),
            source,
        })?;
    let stderr = child.stderr.take();
    let echo = std::thread::spawn(move || {
        let mut kept = String::new();
        if let Some(stderr) = stderr {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if verbose {
                    crate::say_err!("{line}");
                }
                kept.push_str(&line);
                kept.push('\n');
            }
        }
        kept
    });
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let status = child.wait().map_err(|source| BuildError::Io {
        path: PathBuf::from(tool),
        source,
    })?;
    let stderr = echo.join().unwrap_or_default();
    if status.success() {
        return Ok((stdout, stderr));
    }
    let all = format!("{stderr}{stdout}");
    let lines: Vec<&str> = all
        .lines()
        .filter(|l| !l.trim_start().starts_with("{\"reason\""))
        .collect();
    // Output already shown as it came is not repeated.
    let tail = if verbose {
        "(its output is above)".to_string()
    } else {
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    Err(BuildError::Tool {
        project: project.dir.clone(),
        tool: tool.into(),
        status: status.to_string(),
        hint: hint(&all),
        tail,
    })
}
