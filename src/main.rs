//! The `atlas` binary: CLI → config → resolve → serve. Nothing else lives here.

use anyhow::Context;
use clap::Parser;
use compound_atlas::config::{Cli, Command, FileConfig, ServeArgs, Settings, StoreChoice};
use compound_atlas::{generate, ingest, io::manifest::Manifest, open_store, AppState};
use std::io::IsTerminal;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = cli.log.clone().unwrap_or_else(|| "info,sqlx=warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = FileConfig::load(cli.config.as_deref())
        .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    let progress = std::io::stderr().is_terminal();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => {
            serve(
                Settings::resolve(&args.store, args.bind.as_deref(), &file),
                progress,
            )
            .await
        }
        Command::Generate(args) => {
            let opts = generate::Options {
                out: args.out,
                scale: args.scale,
                seed: args.seed,
                encoding: args.encoding,
                progress,
            };
            let summary = tokio::task::spawn_blocking(move || generate::run(&opts)).await??;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
        Command::Import(args) => {
            let settings = Settings::resolve(&args.store, None, &file);
            let opts = ingest::ImportOptions {
                layer: args.layer,
                reorient: args.reorient,
                assume_crs: args.crs,
            };
            let paths = args.paths.clone();
            let started = std::time::Instant::now();
            let data =
                tokio::task::spawn_blocking(move || ingest::read_paths(&paths, &opts, progress))
                    .await??;
            let store = open_store(&settings).await?;
            let report = store.import(data).await?;
            println!(
                "{}",
                serde_json::json!({
                    "store": store.kind(),
                    "read": report.read,
                    "changed": report.changed,
                    "seconds": started.elapsed().as_secs_f64(),
                })
            );
            Ok(())
        }
        Command::Migrate(args) => {
            let settings = Settings::resolve(&args, None, &file);
            if !matches!(settings.store, StoreChoice::Postgis(_)) {
                anyhow::bail!("migrate needs --database-url (or DATABASE_URL)");
            }
            open_store(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
    }
}

async fn serve(settings: Settings, progress: bool) -> anyhow::Result<()> {
    if let StoreChoice::Embedded(dir) = &settings.store {
        if !Manifest::exists(dir) {
            eprintln!(
                "{} holds no dataset: generating the demo city of Qingdao (scale {}) into it…",
                dir.display(),
                settings.demo_scale
            );
            let opts = generate::Options {
                out: dir.clone(),
                scale: settings.demo_scale,
                seed: settings.demo_seed,
                encoding: generate::Encoding::Utf8,
                progress,
            };
            let summary = tokio::task::spawn_blocking(move || generate::run(&opts)).await??;
            eprintln!(
                "generated {} compounds, {} buildings, {} units, {} complaints in {:.1} s",
                summary.compounds,
                summary.buildings,
                summary.units,
                summary.complaints,
                summary.seconds
            );
        }
    }
    let started = std::time::Instant::now();
    let store = open_store(&settings).await.context("opening the store")?;
    tracing::info!(
        store = store.kind(),
        seconds = started.elapsed().as_secs_f64(),
        "store ready"
    );
    let listener = tokio::net::TcpListener::bind(&settings.bind)
        .await
        .with_context(|| format!("cannot listen on {}", settings.bind))?;
    let addr = listener.local_addr()?;
    println!(
        "compound-atlas serving http://{addr}/ ({} store)",
        store.kind()
    );
    let app = compound_atlas::app(AppState { store });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    eprintln!("compound-atlas stopped");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
