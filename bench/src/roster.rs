//! `roster`: our roster solver on `../shared/bench/roster_50x28.json` (10 s), checked by the
//! bench's own checker, beside OR-Tools CP-SAT on the same instance in the same run (60 s,
//! 2 workers, from the virtual environment the `erlang` benchmark fills: pyworkforce brings
//! OR-Tools). Target: no hard-rule violation and an objective below CP-SAT's within 10 s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use callcenter_workforce::domain::roster::{Budget, Instance, solve};

fn shared_bench() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench")
}

/// The bench checker's verdict on a solution file: (hard violations, objective).
fn check(instance: &Path, solution: &Path) -> Result<(u64, i64), String> {
    let output = std::process::Command::new("python3")
        .arg(shared_bench().join("roster_check.py"))
        .arg(instance)
        .arg(solution)
        .output()
        .map_err(|error| format!("roster_check.py: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let json_end = text
        .rfind('}')
        .ok_or_else(|| format!("checker said: {text}"))?;
    let verdict: serde_json::Value =
        serde_json::from_str(&text[..=json_end]).map_err(|error| error.to_string())?;
    Ok((
        verdict["hard_violation_count"].as_u64().unwrap_or(u64::MAX),
        verdict["objective_recomputed"].as_i64().unwrap_or(i64::MAX),
    ))
}

/// Runs the comparison.
pub fn roster_bench(seconds: f64) -> BTreeMap<&'static str, serde_json::Value> {
    let instance_path = shared_bench().join("roster_50x28.json");
    let text = match std::fs::read_to_string(&instance_path) {
        Ok(text) => text,
        Err(error) => {
            println!("roster skipped: {}: {error}", instance_path.display());
            return BTreeMap::from([("bench", serde_json::json!("roster"))]);
        }
    };
    let json: serde_json::Value = serde_json::from_str(&text).expect("instance json");
    let instance = Instance::from_json(&json).expect("a valid instance");
    let directory = callcenter_testkit::TempDir::new("bench-roster");
    let ours_path = directory.path().join("ours.json");
    let started = Instant::now();
    let clock = || started.elapsed();
    let budget = Budget {
        moves: u64::MAX,
        time: Duration::from_secs_f64(seconds),
        elapsed: &clock,
    };
    let solution = solve(&instance, 1, budget).expect("solvable");
    let ours_seconds = started.elapsed().as_secs_f64();
    std::fs::write(
        &ours_path,
        serde_json::to_vec(&solution.to_json(&instance)).expect("json"),
    )
    .expect("write");
    let ours = check(&instance_path, &ours_path);
    let theirs_path = directory.path().join("cpsat.json");
    let theirs = crate::erlang::pyworkforce_python().and_then(|python| {
        let started = Instant::now();
        let status = std::process::Command::new(python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("roster_cpsat.py"))
            .arg(&instance_path)
            .arg(&theirs_path)
            .args(["60", "2"])
            .status()
            .map_err(|error| error.to_string())?;
        if !status.success() {
            return Err(format!("CP-SAT run failed: {status}"));
        }
        let elapsed = started.elapsed().as_secs_f64();
        check(&instance_path, &theirs_path).map(|verdict| (verdict, elapsed))
    });
    println!("roster benchmark: roster_50x28 (50 agents, 28 days), checked by roster_check.py");
    println!(
        "{:<34} {:>10} {:>16} {:>10}",
        "solver", "objective", "hard violations", "seconds"
    );
    let row = |name: &str, verdict: &Result<(u64, i64), String>, seconds: f64| match verdict {
        Ok((hard, objective)) => {
            println!("{name:<34} {objective:>10} {hard:>16} {seconds:>10.1}");
        }
        Err(error) => println!("{name:<34} failed: {error}"),
    };
    row("ours (seed 1)", &ours, ours_seconds);
    match &theirs {
        Ok((verdict, elapsed)) => row("OR-Tools CP-SAT (60 s, 2 workers)", &Ok(*verdict), *elapsed),
        Err(error) => println!("CP-SAT skipped: {error}"),
    }
    println!("{:<34} {:>10}", "best known", 5029);
    println!("{:<34} {:>10}", "lower bound (coverage alone)", 4600);
    let objective = |verdict: &Result<(u64, i64), String>| verdict.as_ref().ok().map(|v| v.1);
    let hard = |verdict: &Result<(u64, i64), String>| verdict.as_ref().ok().map(|v| v.0);
    BTreeMap::from([
        ("bench", serde_json::json!("roster")),
        ("objective", serde_json::json!(objective(&ours))),
        ("hard_violations", serde_json::json!(hard(&ours))),
        (
            "seconds",
            serde_json::json!((ours_seconds * 10.0).round() / 10.0),
        ),
        ("moves", serde_json::json!(solution.moves)),
        (
            "cpsat_objective",
            serde_json::json!(theirs.as_ref().ok().map(|(v, _)| v.1)),
        ),
        (
            "cpsat_hard_violations",
            serde_json::json!(theirs.as_ref().ok().map(|(v, _)| v.0)),
        ),
        ("best_known", serde_json::json!(5029)),
    ])
}
