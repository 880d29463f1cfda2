//! The `atlas` binary: CLI → config → resolve → serve. Nothing else lives here.

use anyhow::Context;
use clap::Parser;
use compound_atlas::analytics::{service::ComplaintReport, Atlas};
use compound_atlas::config::{
    Cli, Command, FileConfig, GenerateArgs, GradeArgs, ImportArgs, SeedArgs, ServeArgs, Settings,
    StoreArgs, StoreChoice,
};
use compound_atlas::{generate, ingest, io::manifest::Manifest, open_store, AppState};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

/// mimalloc: tile building allocates many small, short-lived vectors and strings on every
/// worker thread, where glibc's allocator spent a quarter of the time (perf, benches/tiles.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off for the batch commands (seed, import, generate, grade), unless
/// `ATLAS_TRANSPARENT_HUGE_PAGES=1`: with the kernel's `always`, a first touch of fresh memory
/// zeroes a 2 MiB page, and loading the city and its statistics spent up to 1.6 s in the kernel
/// where 4 KiB pages take 0.3–0.4 s (`atlas seed`, measured 2026-11-27, docs/benchmarks.md). The server
/// keeps them: under load they served 9% more uncached and 4% more cached tiles (A/B, same day).
fn huge_pages(cli: &Cli) {
    #[cfg(target_os = "linux")]
    if !matches!(cli.command, None | Some(Command::Serve(_)))
        && std::env::var("ATLAS_TRANSPARENT_HUGE_PAGES").as_deref() != Ok("1")
    {
        if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
            eprintln!("warning: cannot turn transparent huge pages off: {e}");
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    huge_pages(&cli);
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
        Command::Generate(args) => generate_cmd(args, progress).await,
        Command::Import(args) if args.inspect => inspect_cmd(&args),
        Command::Import(args) => import_cmd(args, &file, progress).await,
        Command::Grade(args) => grade_cmd(args, &file).await,
        Command::Seed(args) => seed_cmd(args, &file, progress).await,
        Command::Migrate(args) => migrate_cmd(args, &file).await,
    }
}

/// Generate the demo city.
async fn generate_cmd(args: GenerateArgs, progress: bool) -> anyhow::Result<()> {
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

/// `atlas import --inspect`: the reports and one proposed mapping.
fn inspect_cmd(args: &ImportArgs) -> anyhow::Result<()> {
    let crs = args.crs.and_then(|c| u32::try_from(c).ok());
    let mut proposals = String::new();
    for path in &args.paths {
        let (report, proposal) = ingest::inspect::inspect(path, args.layer, crs)?;
        println!("{report}");
        proposals.push_str(&proposal);
    }
    if !proposals.is_empty() {
        println!("# proposed mapping: save it (for example as mapping.toml), check it, then");
        println!("# atlas import FILE… --mapping mapping.toml");
        print!("{proposals}");
    }
    Ok(())
}

/// `atlas import`: geography into the store, then hotline exports through the geocoder.
async fn import_cmd(args: ImportArgs, file: &FileConfig, progress: bool) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args.store, None, file);
    let mapping = args
        .mapping
        .as_deref()
        .map(compound_atlas::io::mapping::Mapping::load)
        .transpose()?;
    // The mapping's [complaints]: the hotline's headers, category table and rules.
    let export_mapping = match mapping
        .as_ref()
        .and_then(|m| m.complaints.as_ref().map(|t| (m, t)))
    {
        Some((m, t)) => Some(ingest::complaints::ExportMapping::from_table(t, &m.file)?),
        None => None,
    };
    let ticket = export_mapping
        .as_ref()
        .and_then(ingest::complaints::ticket_header)
        .map(str::to_string);
    let opts = ingest::ImportOptions {
        layer: args.layer,
        reorient: args.reorient,
        assume_crs: args.crs,
        mapping,
        datum: args.datum,
        encoding: args.encoding,
    };
    let link_options = ingest::derive::LinkOptions {
        unit_distance_m: args.unit_distance,
    };
    // Hotline exports go through the geocoder; everything else is geography.
    let (exports, geodata): (Vec<_>, Vec<_>) = args.paths.iter().cloned().partition(|p| {
        p.is_file() && ingest::complaints::looks_like_export_with(p, ticket.as_deref())
    });
    let started = std::time::Instant::now();
    let data = if geodata.is_empty() {
        None
    } else {
        Some(
            tokio::task::spawn_blocking(move || ingest::read_sources(&geodata, &opts, progress))
                .await??,
        )
    };
    let store = open_store(&settings).await?;
    if let Some((mut data, origins)) = data {
        // Links and ids the files do not carry, from where things are (the stored
        // geography too, for a layer imported on its own).
        let (data, links) = if ingest::derive::needed(&data) {
            let stored = store.geography().await?;
            tokio::task::spawn_blocking(move || {
                ingest::derive::links(&mut data, &origins, &stored, link_options)
                    .map(|links| (data, links))
            })
            .await??
        } else {
            (data, ingest::derive::LinkReport::default())
        };
        let report = store.import(data).await?;
        let mut out = serde_json::json!({
            "store": store.kind(),
            "read": report.read,
            "changed": report.changed,
            "seconds": started.elapsed().as_secs_f64(),
        });
        if !links.is_empty() {
            out["links"] = serde_json::to_value(&links)?;
        }
        println!("{out}");
    }
    let atlas = Atlas::new(store, settings.rule.clone());
    for path in exports {
        let report = import_export(
            &atlas,
            &path,
            args.encoding,
            export_mapping.clone(),
            progress,
        )
        .await?;
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

/// `atlas grade`: grade every quarter, save the grades, print one quarter by district.
async fn grade_cmd(args: GradeArgs, file: &FileConfig) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args.store, None, file);
    let store = open_store(&settings).await?;
    let atlas = Atlas::new(store, settings.rule.clone());
    let book = atlas.grades().await?;
    atlas
        .store
        .save_grades(&book.records.values().collect::<Vec<_>>())
        .await?;
    let period = compound_atlas::analytics::grade::parse_period(args.period.as_deref(), &book)
        .map_err(anyhow::Error::msg)?;
    let data = atlas.store.geography().await?;
    let mut districts = Vec::new();
    for d in &data.districts {
        let (red, yellow, blue) = book.counts(period, Some(&d.code));
        let mut reds: Vec<_> = book
            .records
            .values()
            .filter(|r| r.period == period && *r.district == *d.code && r.grade == compound_atlas::analytics::Grade::Red)
            .map(|r| {
                let name = data.compounds.iter().find(|c| c.id == r.compound_id).map_or("", |c| c.name.as_str());
                serde_json::json!({ "id": r.compound_id, "name": name, "rate": r.rate, "rank": r.rank, "held": r.held })
            })
            .collect();
        reds.sort_by_key(|v| v["rank"].as_u64());
        districts.push(serde_json::json!({
            "code": d.code, "name": d.name, "red": red, "yellow": yellow, "blue": blue, "red_compounds": reds,
        }));
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "period": period.to_string(),
            "periods_graded": book.periods.len(),
            "rule": atlas.rule,
            "districts": districts,
        }))?
    );
    Ok(())
}

/// `atlas seed`: tiles into an archive, as the public sees them.
async fn seed_cmd(args: SeedArgs, file: &FileConfig, progress: bool) -> anyhow::Result<()> {
    if args.tileset != "atlas" {
        anyhow::bail!("no tileset `{}`; this server has `atlas`", args.tileset);
    }
    let settings = Settings::resolve(&args.store, None, file);
    let store = open_store(&settings).await?;
    let atlas = Atlas::new(store, settings.rule.clone())
        .with_alerts(settings.alerts.clone())
        .with_hotspots(settings.hotspots)
        .with_company_lists(settings.company_lists.clone());
    let plan = compound_atlas::serving::seed::SeedPlan {
        minzoom: args.minzoom,
        maxzoom: args.maxzoom,
        bbox: args.bbox,
        from: args.from,
        to: args.to,
        period: args.period,
        audience: compound_atlas::model::Audience::public(settings.min_count),
        encoding: args.encoding,
    };
    let report = compound_atlas::serving::seed::seed(&atlas, &args.out, &plan, progress).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// `atlas migrate`: the PostGIS schema.
async fn migrate_cmd(args: StoreArgs, file: &FileConfig) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args, None, file);
    if !matches!(settings.store, StoreChoice::Postgis(_)) {
        anyhow::bail!("migrate needs --database-url (or DATABASE_URL)");
    }
    open_store(&settings).await?;
    println!("migrations applied");
    Ok(())
}

fn spinner(show: bool, msg: String) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let s = indicatif::ProgressBar::new_spinner();
    s.set_message(msg);
    s.enable_steady_tick(std::time::Duration::from_millis(120));
    s
}

/// Reads, places and stores one hotline export, and says how it went on stderr.
async fn import_export(
    atlas: &Atlas,
    path: &Path,
    encoding: Option<ingest::complaints::TextEncoding>,
    mapping: Option<ingest::complaints::ExportMapping>,
    progress: bool,
) -> anyhow::Result<ComplaintReport> {
    let s = spinner(progress, format!("reading {}", path.display()));
    let p = path.to_path_buf();
    let parsed = tokio::task::spawn_blocking(move || {
        ingest::complaints::read_file_mapped(&p, encoding, mapping.as_ref())
    })
    .await??;
    s.set_message(format!(
        "placing and storing {} complaints",
        parsed.rows.len()
    ));
    let report = atlas
        .import_complaints(parsed, &path.display().to_string())
        .await?;
    s.finish_and_clear();
    eprintln!(
        "{}: {} rows, {} loaded, {} unchanged, {} rejected, {} unmatched ({:.1} s)",
        path.display(),
        report.rows,
        report.loaded,
        report.unchanged,
        report.rejected.len(),
        report.unmatched,
        report.seconds
    );
    for r in report.rejected.iter().take(20) {
        eprintln!("  line {}: field `{}`: {}", r.line, r.field, r.reason);
    }
    if report.rejected.len() > 20 {
        eprintln!(
            "  … and {} more (see the JSON report)",
            report.rejected.len() - 20
        );
    }
    Ok(report)
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
    let atlas = Arc::new(
        Atlas::new(Arc::clone(&store), settings.rule.clone())
            .with_alerts(settings.alerts.clone())
            .with_hotspots(settings.hotspots)
            .with_company_lists(settings.company_lists.clone()),
    );
    // A generated data directory whose complaints are not loaded yet: load its hotline export.
    if let StoreChoice::Embedded(dir) = &settings.store {
        let export = Manifest::read(dir)
            .ok()
            .and_then(|m| m.complaints_csv)
            .map(|f| dir.join(f));
        if let Some(export) = export.filter(|p| p.exists()) {
            if store.counts().await?.complaints == 0 {
                eprintln!(
                    "loading the demo city's hotline export {}…",
                    export.display()
                );
                import_export(&atlas, &export, None, None, progress).await?;
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(&settings.bind)
        .await
        .with_context(|| format!("cannot listen on {}", settings.bind))?;
    let addr = listener.local_addr()?;
    println!(
        "compound-atlas serving http://{addr}/ ({} store)",
        store.kind()
    );
    let state = AppState::new(atlas, &settings)
        .with_archives(compound_atlas::serving::served::open_dir(&settings.archive_dir).await);
    compound_atlas::http::watch_changes(&state).await;
    let app = compound_atlas::app(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
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
