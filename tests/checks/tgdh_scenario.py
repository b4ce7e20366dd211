"""Vector check: a whole seeded group history (joins, leaves, refresh, batches, merge) run
in-process; every member must agree, and the results must equal the recorded ones on CPython
and on MicroPython. Key material is reported as fingerprints only."""

BACKENDS = ("pure", "pycryptodome")


def run(inputs):
    """Run the steps; returns one summary per step."""
    from groupkey.tgdh import events, keys
    from groupkey.tgdh.simulation import DeterministicRandom, Simulation, sequential_leaves

    rand = DeterministicRandom(bytes.fromhex(inputs["seed"]))
    simulation = Simulation(bytes.fromhex(inputs["group_id"]), rand, inputs["full"])
    summary = []
    for step in inputs["steps"]:
        kind = step[0]
        merged = None
        if kind == "join":
            operations = [simulation.join_operation(simulation.new_identity())
                          for _ in range(step[1])]
        elif kind == "leave":
            leaves = simulation.state.tree.leaves()
            operations = [events.leave(leaves[step[1] % len(leaves)])]
        elif kind == "partition":
            leaves = simulation.state.tree.leaves()
            chosen = []
            for position in step[1]:
                leaf = leaves[position % len(leaves)]
                if leaf not in chosen:
                    chosen.append(leaf)
            operations = sequential_leaves(chosen)
        elif kind == "refresh":
            leaves = simulation.state.tree.leaves()
            operations = [events.refresh(leaves[step[1] % len(leaves)])]
        else:
            merged = Simulation(bytes.fromhex(inputs["group_id"]) + b"-b", rand, inputs["full"])
            for _ in range(step[1] - 1):
                merged.run([merged.join_operation(merged.new_identity())])
            operations = [events.merge(merged.state.tree)]
        simulation.run(operations, merged)
        secret = simulation.check_agreement()
        summary.append([simulation.state.epoch, simulation.state.tree.size(),
                        simulation.state.tree.height(),
                        keys.fingerprint(simulation.state.tree_hash()),
                        keys.fingerprint(secret)])
    return summary


def compute(inputs):
    """Vector entry point."""
    return {"steps": run(inputs)}
