"""The typed records (sweeps.records) against the format on disk: a sweep folder written by the released anynet
(tests/data/released-sweep: three finished models of the main job's RegNetX sweep, one model lost to a dead
worker) reads into them and writes back line for line, and one list of measured fields drives the result, the
record and load_results's columns."""

import json
import shutil
from dataclasses import fields
from pathlib import Path

import numpy as np

from sweeps import MEASURED, Measurement, PlanRow, SweepFolder, TrainResult, load_results, sweep_status
from sweeps.records import MEASURED_NUMBERS, RESULT_COLUMNS

RELEASED = Path(__file__).parent / "data" / "released-sweep"


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_released_folder_reads_into_records_and_writes_back_line_for_line(tmp_path):
    folder = SweepFolder(RELEASED)
    plan, records = folder.plan(), folder.records()
    assert [row.id for row in plan] == [0, 1, 6, 19] and all(isinstance(row, PlanRow) for row in plan)
    assert [row.to_dict() for row in plan] == lines(RELEASED / "plan.jsonl")
    written = lines(RELEASED / "results.jsonl")
    # a trained model's record: every field kept, but the result's copy of the complexity (the record's own, the
    # plan row's, is the one)
    copies = ("flops", "params", "acts")
    assert all(w["result"][k] == w[k] for w in written[:3] for k in copies)
    trained = [{**w, "result": {k: v for k, v in w["result"].items() if k not in copies}} for w in written[:3]]
    assert [r.to_dict() for r in records[:3]] == trained
    ok, lost = records[:3], records[3]
    rows = {row.id: row for row in plan}
    assert all(r.status == "ok" and r.row == rows[r.id] and r.row.space == "RegNetX-small" for r in ok)
    assert all(isinstance(r.result, TrainResult) and r.result.latency_ms > 0 for r in ok)
    assert lost.result is None and lost.failures == [lost.message] and lost.final and lost.seed is None
    assert lost.to_dict() == {**dict.fromkeys(("seed", "wall_s", "node", "started_at", "worker")), **written[3]}
    assert folder.final_ids() == {0, 1, 6, 19}
    copy = SweepFolder(tmp_path / "copy")
    copy.write_plan(plan)
    for r in records:
        copy.append(r)
    assert (tmp_path / "copy" / "results.jsonl").read_text().splitlines() == [
        json.dumps(r.to_dict(), allow_nan=False) for r in records
    ]
    shutil.copy(RELEASED / "sweep.yaml", tmp_path / "copy")
    status = sweep_status(tmp_path / "copy")
    assert (status.planned, status.ok, status.failed, status.remaining) == (4, 3, 1, 0)


def test_one_list_of_measured_fields_drives_result_record_and_columns():
    assert MEASURED == tuple(f.name for f in fields(Measurement))
    assert set(MEASURED) <= {f.name for f in fields(TrainResult)} and set(MEASURED) <= set(RESULT_COLUMNS)
    frame = load_results(RELEASED)
    assert set(RESULT_COLUMNS) <= set(frame.columns) and list(frame.id) == [0, 1, 6, 19]
    assert all(frame[k].dtype == float for k in MEASURED_NUMBERS)
    assert frame.latency_ms.drop(index=1).gt(0).all() and np.isnan(frame.latency_ms.iloc[1])  # id 1 was lost
    assert frame.measure_model.iloc[0] == "bn_folded_eval" and frame.space.eq("RegNetX-small").all()
    record = SweepFolder(RELEASED).records()[0]
    assert record.result.measurement() == Measurement(
        **{k: lines(RELEASED / "results.jsonl")[0]["result"][k] for k in MEASURED}
    )
