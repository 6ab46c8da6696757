//! The `cowd` binary.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use cowd::cli::{CheckArgs, Cli, Command};
use cowd::config_format::Format;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Follow(args) => follow(args),
        Command::Check(args) => check(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, skipping causes the message already includes.
fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn serve(args: cowd::cli::ServeArgs) -> anyhow::Result<()> {
    let config = args.into_config(cowd::cli::SecretsFromEnv::read())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(cowd::run(config))?;
    Ok(())
}

fn follow(args: cowd::cli::FollowArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(cowd::run(args.into_config()))?;
    Ok(())
}

fn check(args: CheckArgs) -> anyhow::Result<()> {
    let format = args
        .format
        .or_else(|| Format::from_path(&args.config))
        .with_context(|| {
            format!(
                "cannot tell the format of {}: name it .json, .toml, .yaml or .yml, or pass --format",
                args.config.display()
            )
        })?;
    let doc = cowd::source::file_watch::FileSource::read_document(&args.config, format)?;
    if let Some(schema_path) = &args.schema {
        let schema = cowd::schema::Schema::load(schema_path)?;
        if let Err(violations) = schema.validate(&doc) {
            for violation in &violations {
                eprintln!("{}: {violation}", args.config.display());
            }
            anyhow::bail!(
                "{} does not match {} ({} violation(s))",
                args.config.display(),
                schema_path.display(),
                violations.len()
            );
        }
    }
    let size = serde_json::to_vec(&doc)?.len();
    println!(
        "{} is valid {format}{} ({size} bytes as JSON)",
        args.config.display(),
        if args.schema.is_some() {
            " and matches the schema"
        } else {
            ""
        }
    );
    Ok(())
}
