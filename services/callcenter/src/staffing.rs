//! `callcenter staffing erlang-c ...`: the agents one interval needs, as JSON, for planners and
//! for comparison with other tools (see `callcenter_workforce::domain::staffing`).

use callcenter_workforce::domain::erlang_a::erlang_a_staffing;
use callcenter_workforce::domain::staffing::{ErlangCRequest, erlang_c_staffing};

/// Which model.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum StaffingCommand {
    /// Erlang C: callers wait as long as it takes.
    ErlangC(ErlangCArgs),
    /// Erlang A: callers hang up after an exponentially distributed patience (Erlang C
    /// overstaffs); the service level counts them against the target.
    ErlangA(ErlangAArgs),
}

/// Erlang C's inputs and the callers' patience.
#[derive(clap::Args, Debug, Clone)]
pub struct ErlangAArgs {
    /// The interval's load and targets.
    #[command(flatten)]
    pub interval: ErlangCArgs,
    /// Average caller patience, in seconds.
    #[arg(long)]
    pub patience_seconds: f64,
}

impl ErlangCArgs {
    fn request(&self) -> ErlangCRequest {
        ErlangCRequest {
            calls: self.calls,
            interval_seconds: self.interval_seconds,
            handle_seconds: self.handle_seconds,
            answer_seconds: self.answer_seconds,
            service_level: self.service_level,
            max_occupancy: self.max_occupancy,
            shrinkage: self.shrinkage,
        }
    }
}

/// One interval's load and targets.
#[derive(clap::Args, Debug, Clone)]
pub struct ErlangCArgs {
    /// Calls offered in the interval.
    #[arg(long)]
    pub calls: f64,
    /// The interval's length in seconds.
    #[arg(long, default_value_t = 1800.0)]
    pub interval_seconds: f64,
    /// Average handling time in seconds.
    #[arg(long)]
    pub handle_seconds: f64,
    /// Answer-time target of the service level, in seconds.
    #[arg(long, default_value_t = 20.0)]
    pub answer_seconds: f64,
    /// Service-level target, 0 to 1 (0.8: 80% within the answer time).
    #[arg(long, default_value_t = 0.8)]
    pub service_level: f64,
    /// Highest occupancy allowed, above 0 up to 1 (1: no limit).
    #[arg(long, default_value_t = 1.0)]
    pub max_occupancy: f64,
    /// Share of paid time not on the phones, 0 up to 1.
    #[arg(long, default_value_t = 0.0)]
    pub shrinkage: f64,
}

/// The staffing as one JSON object, or why the input is wrong.
pub fn staffing(command: &StaffingCommand) -> Result<serde_json::Value, String> {
    match command {
        StaffingCommand::ErlangA(args) => {
            let staffing = erlang_a_staffing(&args.interval.request(), args.patience_seconds)
                .map_err(|error| error.to_string())?;
            let predicted = staffing.predicted;
            Ok(serde_json::json!({
                "model": "erlang_a",
                "load_erlangs": staffing.load_erlangs,
                "agents": predicted.agents,
                "agents_with_shrinkage": staffing.agents_with_shrinkage,
                "service_level": predicted.service_level,
                "asa_seconds": predicted.asa_seconds,
                "occupancy": predicted.occupancy,
                "wait_probability": predicted.wait_probability,
                "abandon_probability": predicted.abandon_probability,
                "limited_by": staffing.limited_by.as_str(),
            }))
        }
        StaffingCommand::ErlangC(args) => {
            let staffing = erlang_c_staffing(&args.request()).map_err(|error| error.to_string())?;
            Ok(serde_json::json!({
                "model": "erlang_c",
                "load_erlangs": staffing.load_erlangs,
                "agents": staffing.agents,
                "agents_with_shrinkage": staffing.agents_with_shrinkage,
                "service_level": staffing.service_level,
                "asa_seconds": staffing.asa_seconds,
                "occupancy": staffing.occupancy,
                "wait_probability": staffing.wait_probability,
                "limited_by": staffing.limited_by.as_str(),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staffing_prints_raw_and_shrunk_agents_or_says_which_input_is_wrong() {
        let args = ErlangCArgs {
            calls: 360.0,
            interval_seconds: 1800.0,
            handle_seconds: 240.0,
            answer_seconds: 20.0,
            service_level: 0.8,
            max_occupancy: 1.0,
            shrinkage: 0.3,
        };
        let json = staffing(&StaffingCommand::ErlangC(args.clone())).unwrap();
        assert_eq!(json["agents"], 54);
        assert_eq!(json["agents_with_shrinkage"], 78);
        assert_eq!(json["limited_by"], "service_level");
        let wrong = staffing(&StaffingCommand::ErlangC(ErlangCArgs {
            shrinkage: 1.0,
            ..args
        }));
        assert!(wrong.unwrap_err().starts_with("shrinkage"));
        let patient = staffing(&StaffingCommand::ErlangA(ErlangAArgs {
            interval: args.clone(),
            patience_seconds: 180.0,
        }))
        .unwrap();
        assert!(patient["agents"].as_u64().unwrap() < 54, "{patient}");
        assert!(patient["abandon_probability"].as_f64().unwrap() > 0.0);
        let impatient = staffing(&StaffingCommand::ErlangA(ErlangAArgs {
            interval: args,
            patience_seconds: -1.0,
        }));
        assert!(impatient.unwrap_err().starts_with("patience_seconds"));
    }
}
