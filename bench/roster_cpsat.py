"""OR-Tools CP-SAT on a callcenter-roster/v1 instance, for `callcenter-bench roster`.

Usage: python roster_cpsat.py instance.json solution.json SECONDS WORKERS
Writes {"assignment": [[shift id per day] per agent], "objective": N, "status": ...}.
"""
import json
import sys

from ortools.sat.python import cp_model


def main() -> None:
    inst = json.load(open(sys.argv[1]))
    seconds, workers = float(sys.argv[3]), int(sys.argv[4])
    shifts = inst["shift_order"]
    off = inst["off_shift"]
    agents, days = len(inst["agents"]), inst["horizon"]["days"]
    rules = inst["rules"]
    model = cp_model.CpModel()
    x = {(a, d, s): model.NewBoolVar(f"x{a}_{d}_{s}")
         for a in range(agents) for d in range(days) for s in shifts}
    for a in range(agents):
        for d in range(days):
            model.AddExactlyOne(x[a, d, s] for s in shifts)
        for d in range(days - 1):
            for s in shifts:
                for t in shifts:
                    if t not in rules["allowed_next"][s]:
                        model.AddBoolOr([x[a, d, s].Not(), x[a, d + 1, t].Not()])
        window = rules["max_consecutive_working_days"] + 1
        for d in range(days - window + 1):
            model.Add(sum(x[a, e, off] for e in range(d, d + window)) >= 1)
        for w in range(days // 7):
            model.Add(sum(x[a, d, off] for d in range(7 * w, 7 * w + 7))
                      >= rules["min_days_off_per_week"])
    objective = []
    order = inst["coverage"]["required_per_shift_order"]
    weight = inst["objective"]["unmet_coverage_weight"]
    for d in range(days):
        for j, s in enumerate(order):
            need = inst["coverage"]["required_per_shift"][d][j]
            short = model.NewIntVar(0, need, f"short{d}_{s}")
            model.Add(short >= need - sum(x[a, d, s] for a in range(agents)))
            objective.append(weight * short)
    for r in inst["requests"]:
        if r["kind"] == "day_off":
            objective.append(r["weight"] * (1 - x[r["agent"], r["day"], off]))
        else:
            objective.append(r["weight"] * (1 - x[r["agent"], r["day"], r["shift"]]))
    for agent in inst["agents"]:
        if agent["preferred_shifts"]:
            for d in range(days):
                for s in shifts:
                    if s != off and s not in agent["preferred_shifts"]:
                        objective.append(inst["objective"]["preference_weight"]
                                         * x[agent["index"], d, s])
    model.Minimize(sum(objective))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = 1
    status = solver.Solve(model)
    assignment = [[next(s for s in shifts if solver.Value(x[a, d, s])) for d in range(days)]
                  for a in range(agents)]
    json.dump({"assignment": assignment, "objective": int(solver.ObjectiveValue()),
               "status": solver.StatusName(status), "wall_seconds": solver.WallTime()},
              open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
