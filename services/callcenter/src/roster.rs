//! `callcenter roster solve IN.json --out OUT.json [--seconds N] [--seed S] [--moves N]`: the
//! roster solver on a `callcenter-roster/v1` instance (see `callcenter_workforce::domain::roster`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use callcenter_workforce::domain::roster::{Budget, Instance, hard_violations, solve, summary};

/// What to do with rosters.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum RosterCommand {
    /// Solves an instance and writes the solution with its explanation.
    Solve(SolveArgs),
}

/// Where the instance is, where the solution goes, and how long to search.
#[derive(clap::Args, Debug, Clone)]
pub struct SolveArgs {
    /// The instance (`callcenter-roster/v1`).
    pub instance: PathBuf,
    /// Where to write the solution.
    #[arg(long)]
    pub out: PathBuf,
    /// The most seconds to search.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// The seed: the same seed and moves give the same roster.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The moves to try (the search also stops at `--seconds`).
    #[arg(long, default_value_t = 200_000_000)]
    pub moves: u64,
}

/// Runs the command; returns a one-line summary.
pub fn roster(command: &RosterCommand) -> Result<serde_json::Value, String> {
    let RosterCommand::Solve(args) = command;
    let text = std::fs::read_to_string(&args.instance)
        .map_err(|error| format!("{}: {error}", args.instance.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| format!("{}: {error}", args.instance.display()))?;
    let instance = Instance::from_json(&json).map_err(|error| error.to_string())?;
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        return Err("--seconds: above 0".into());
    }
    let started = Instant::now();
    let clock = || started.elapsed();
    let budget = Budget {
        moves: args.moves,
        time: Duration::from_secs_f64(args.seconds),
        elapsed: &clock,
    };
    let solution = solve(&instance, args.seed, budget).map_err(|error| error.to_string())?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut out = solution.to_json(&instance);
    out["seconds"] = serde_json::json!(elapsed);
    out["seed"] = serde_json::json!(args.seed);
    std::fs::write(
        &args.out,
        serde_json::to_vec_pretty(&out).map_err(|e| e.to_string())?,
    )
    .map_err(|error| format!("{}: {error}", args.out.display()))?;
    let violations = hard_violations(&instance, &solution.assignment);
    let mut line = serde_json::json!(summary(&solution));
    line["hard_violations"] = serde_json::json!(violations.len());
    line["seconds"] = serde_json::json!((elapsed * 100.0).round() / 100.0);
    line["moves"] = serde_json::json!(solution.moves);
    Ok(line)
}
