//! `erlang`: our Erlang C staffing against PyPI `pyworkforce` on the same random cases, in one
//! run: the same staffing wherever pyworkforce is right, each difference explained, and the
//! speed of each per case.
//!
//! The cases are human inputs (whole calls and seconds, targets, occupancies and shrinkages in
//! hundredths), drawn from a fixed seed, with the two known pyworkforce flaws among them (bench
//! README): a search that starts at `round(A + 1)` and can skip the first sufficient staffing,
//! and float rounding of quotients that are whole numbers (`136 ÷ (1 − 0.32)`). pyworkforce runs
//! in its own virtual environment under `.tools/bench-venv`, which the benchmark creates and
//! fills on first use (pyworkforce 0.5.1: the newest that installs on Python 3.11; its ErlangC
//! is the same as 0.5.4's).
//!
//! Every difference is put in one class, each checked against our own arithmetic:
//! - `search_start`: pyworkforce's answer is `round(A + 1)`, above ours, and ours meets the
//!   service level within the occupancy;
//! - `occupancy_rounding`: one agent more, where `A ÷ max_occupancy` is a whole number;
//! - `shrinkage_rounding`: the same agents on the phones, one more scheduled, where
//!   `agents ÷ (1 − shrinkage)` is a whole number;
//! - `unexplained`: anything else (listed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use callcenter_workforce::domain::staffing::{
    ErlangCRequest, Staffing, ceil_exact, erlang_c_staffing, service_level,
};
use callcenter_workforce::random::Random;

/// Hundredths from `low` to `high` (both in hundredths).
fn hundredths(random: &mut Random, low: u64, high: u64) -> f64 {
    random.between(low, high) as f64 / 100.0
}

/// The cases: the README's two, then random ones.
fn cases(count: usize) -> Vec<ErlangCRequest> {
    let mut random = Random::new(20_261_122);
    let mut cases = vec![
        // 106 calls, A = 10.6, 50% in 300 s: pyworkforce says 12, 11 suffices.
        ErlangCRequest {
            calls: 106.0,
            interval_seconds: 1800.0,
            handle_seconds: 180.0,
            answer_seconds: 300.0,
            service_level: 0.5,
            max_occupancy: 1.0,
            shrinkage: 0.0,
        },
        // 136 agents with 32% shrinkage: 200, pyworkforce says 201.
        ErlangCRequest {
            calls: 2439.0,
            interval_seconds: 1800.0,
            handle_seconds: 100.0,
            answer_seconds: 20.0,
            service_level: 0.0,
            max_occupancy: 1.0,
            shrinkage: 0.32,
        },
    ];
    while cases.len() < count {
        cases.push(ErlangCRequest {
            calls: random.between(1, 3_000) as f64,
            interval_seconds: [900.0, 1800.0, 3600.0][random.between(0, 2) as usize],
            handle_seconds: random.between(30, 900) as f64,
            answer_seconds: random.between(5, 120) as f64,
            service_level: hundredths(&mut random, 50, 95),
            max_occupancy: hundredths(&mut random, 70, 100),
            shrinkage: hundredths(&mut random, 0, 45),
        });
    }
    cases
}

/// Python's `round` (half to even), as pyworkforce's search start uses it.
fn python_round(x: f64) -> f64 {
    let rounded = x.round();
    if (x - x.trunc()).abs() == 0.5 && rounded % 2.0 != 0.0 {
        rounded - x.signum()
    } else {
        rounded
    }
}

/// Why pyworkforce's `(raw, shrunk)` differs from ours, checked with our arithmetic.
fn explain(case: &ErlangCRequest, ours: &Staffing, theirs: (u32, u32)) -> &'static str {
    let load = ours.load_erlangs;
    let meets = |agents: u32| {
        service_level(agents, load, case.handle_seconds, case.answer_seconds)
            >= case.service_level - 1e-12
            && f64::from(agents) * case.max_occupancy >= load * (1.0 - 1e-12)
    };
    let (raw, shrunk) = theirs;
    if raw > ours.agents && f64::from(raw) == python_round(load + 1.0) && meets(ours.agents) {
        return "search_start";
    }
    let whole = |x: f64| (x - x.round()).abs() <= 1e-9 * x.round().max(1.0);
    if raw == ours.agents + 1
        && whole(load / case.max_occupancy)
        && ceil_exact(load / case.max_occupancy) == f64::from(ours.agents)
    {
        return "occupancy_rounding";
    }
    if raw == ours.agents
        && shrunk == ours.agents_with_shrinkage + 1
        && whole(f64::from(raw) / (1.0 - case.shrinkage))
    {
        return "shrinkage_rounding";
    }
    "unexplained"
}

/// The virtual environment's Python with pyworkforce, created on first use.
pub(crate) fn pyworkforce_python() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/bench-venv");
    let python = venv.join("bin/python");
    let ready = |python: &Path| {
        std::process::Command::new(python)
            .args(["-c", "import pyworkforce.queuing"])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if ready(&python) {
        return Ok(python);
    }
    eprintln!(
        "bench erlang: installing pyworkforce into {}",
        venv.display()
    );
    let run = |program: &Path, args: &[&str]| -> Result<(), String> {
        let output = std::process::Command::new(program)
            .args(args)
            .output()
            .map_err(|error| format!("{}: {error}", program.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} {args:?} failed: {}",
                program.display(),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    };
    run(
        Path::new("python3"),
        &["-m", "venv", &venv.to_string_lossy()],
    )?;
    run(
        &python,
        &["-m", "pip", "install", "--quiet", "pyworkforce==0.5.1"],
    )?;
    if ready(&python) {
        Ok(python)
    } else {
        Err("pyworkforce does not import after installing".into())
    }
}

/// Runs the comparison.
pub fn erlang(count: usize) -> BTreeMap<&'static str, serde_json::Value> {
    let cases = cases(count.max(2));
    // Ours, timed over several rounds for a stable per-case figure.
    let rounds = 10;
    let started = Instant::now();
    let mut ours = Vec::new();
    for _ in 0..rounds {
        ours = cases
            .iter()
            .map(|case| erlang_c_staffing(case).expect("valid case"))
            .collect();
    }
    let ours_per_case_us = started.elapsed().as_secs_f64() * 1e6 / (rounds * cases.len()) as f64;

    let directory = callcenter_testkit::TempDir::new("bench-erlang");
    let input = directory.path().join("cases.json");
    let output = directory.path().join("pyworkforce.json");
    let json_cases: Vec<serde_json::Value> = cases
        .iter()
        .map(|case| {
            serde_json::json!({
                "calls": case.calls, "interval_seconds": case.interval_seconds,
                "handle_seconds": case.handle_seconds, "answer_seconds": case.answer_seconds,
                "service_level": case.service_level, "max_occupancy": case.max_occupancy,
                "shrinkage": case.shrinkage,
            })
        })
        .collect();
    std::fs::write(&input, serde_json::to_vec(&json_cases).expect("json")).expect("write cases");
    let theirs = pyworkforce_python().and_then(|python| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("pyworkforce_erlang.py");
        let status = std::process::Command::new(python)
            .arg(script)
            .arg(&input)
            .arg(&output)
            .status()
            .map_err(|error| error.to_string())?;
        if !status.success() {
            return Err(format!("pyworkforce run failed: {status}"));
        }
        let answer: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&output).map_err(|e| e.to_string())?)
                .map_err(|error| error.to_string())?;
        let results: Vec<(u32, u32)> = answer["results"]
            .as_array()
            .ok_or("no results")?
            .iter()
            .map(|pair| {
                let get = |index: usize| pair[index].as_u64().unwrap_or(u64::MAX) as u32;
                (get(0), get(1))
            })
            .collect();
        Ok((results, answer["seconds"].as_f64().unwrap_or_default()))
    });
    let (theirs, theirs_seconds) = match theirs {
        Ok(theirs) => theirs,
        Err(error) => {
            println!("pyworkforce skipped: {error}");
            return BTreeMap::from([
                ("bench", serde_json::json!("erlang")),
                ("cases", serde_json::json!(cases.len())),
                ("ours_us_per_case", serde_json::json!(ours_per_case_us)),
                ("pyworkforce", serde_json::json!(null)),
            ]);
        }
    };
    let mut classes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut unexplained = Vec::new();
    let mut same = 0;
    for ((case, ours), theirs) in cases.iter().zip(&ours).zip(&theirs) {
        if (ours.agents, ours.agents_with_shrinkage) == *theirs {
            same += 1;
            continue;
        }
        let class = explain(case, ours, *theirs);
        *classes.entry(class).or_default() += 1;
        if class == "unexplained" && unexplained.len() < 10 {
            unexplained.push(format!(
                "{case:?}: ours {} / {}, pyworkforce {} / {}",
                ours.agents, ours.agents_with_shrinkage, theirs.0, theirs.1
            ));
        }
    }
    let theirs_per_case_us = theirs_seconds * 1e6 / cases.len() as f64;
    let speedup = theirs_per_case_us / ours_per_case_us;
    println!(
        "erlang benchmark: {} cases (Erlang C staffing), ours against pyworkforce 0.5.1",
        cases.len()
    );
    println!("{:<52} {:>12}", "measure", "value");
    println!(
        "{:<52} {:>12}",
        "same staffing (raw and with shrinkage)", same
    );
    for class in [
        "search_start",
        "occupancy_rounding",
        "shrinkage_rounding",
        "unexplained",
    ] {
        println!(
            "{:<52} {:>12}",
            format!("differs: {class}"),
            classes.get(class).copied().unwrap_or_default()
        );
    }
    println!("{:<52} {:>12.2}", "ours, µs per case", ours_per_case_us);
    println!(
        "{:<52} {:>12.2}",
        "pyworkforce, µs per case", theirs_per_case_us
    );
    println!("{:<52} {:>12.0}", "speed ratio (target >= 100)", speedup);
    for line in &unexplained {
        println!("  unexplained: {line}");
    }
    BTreeMap::from([
        ("bench", serde_json::json!("erlang")),
        ("cases", serde_json::json!(cases.len())),
        ("same", serde_json::json!(same)),
        ("differences", serde_json::json!(classes)),
        (
            "unexplained",
            serde_json::json!(classes.get("unexplained").copied().unwrap_or_default()),
        ),
        (
            "ours_us_per_case",
            serde_json::json!(round3(ours_per_case_us)),
        ),
        (
            "pyworkforce_us_per_case",
            serde_json::json!(round3(theirs_per_case_us)),
        ),
        ("speed_ratio", serde_json::json!(speedup.round())),
    ])
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rounds_half_to_even() {
        assert_eq!(python_round(11.5), 12.0);
        assert_eq!(python_round(12.5), 12.0);
        assert_eq!(python_round(11.6), 12.0);
        assert_eq!(python_round(11.4), 11.0);
    }

    #[test]
    fn the_readme_cases_differ_for_the_known_reasons() {
        let cases = cases(2);
        let first = erlang_c_staffing(&cases[0]).unwrap();
        assert_eq!(explain(&cases[0], &first, (12, 12)), "search_start");
        let second = erlang_c_staffing(&cases[1]).unwrap();
        assert_eq!((second.agents, second.agents_with_shrinkage), (136, 200));
        assert_eq!(
            explain(&cases[1], &second, (136, 201)),
            "shrinkage_rounding"
        );
    }
}
