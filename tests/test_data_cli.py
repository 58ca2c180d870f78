"""`apo-kit validate` / `apo-kit info` as a user runs them, on a copy of the real sample corrupted with every kind of bad
input; and the file-level round trips apo_kit JSONL -> ms-swift -> apo_kit and JSONL -> datasets / Parquet -> JSONL."""
import json, shutil, subprocess, sys
from pathlib import Path
import pytest
from fastcore.test import test_eq as eq_

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT/'data_samples'/'nih_multimodel.jsonl'
APO_KIT = Path(sys.executable).parent/'apo-kit'          # the console script of this environment

def run(*args, cwd=None):
    return subprocess.run([str(APO_KIT), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)

@pytest.fixture
def sample(tmp_path):
    "A copy of the NIH sample and its images in tmp_path: (path of the JSONL, its records)."
    shutil.copytree(ROOT/'data_samples'/'images', tmp_path/'images')
    shutil.copy(SAMPLE, tmp_path/SAMPLE.name)
    return tmp_path/SAMPLE.name, [json.loads(l) for l in SAMPLE.read_text(encoding='utf-8').splitlines()]

def write(path, lines):
    path.write_text(''.join((l if isinstance(l, str) else json.dumps(l, ensure_ascii=False)) + '\n' for l in lines), encoding='utf-8')

def test_clean_sample_validates(sample):
    path, _ = sample
    r = run('validate', path)
    eq_((r.returncode, r.stdout), (0, ''))
    assert '0 error(s) in 1 file(s)' in r.stderr

def test_every_kind_of_bad_input_is_reported_on_its_line(sample):
    "Each corrupted line gives exactly one error line `file:line: field: message`, and nothing else is reported."
    path, recs = sample
    lines = [dict(r) for r in recs]
    assert len(lines) == 10 and all(len(r['trajectories']) == 7 for r in lines)
    def traj(i, j, **kw): lines[i]['trajectories'] = [dict(t, **kw) if k == j else t for k, t in enumerate(lines[i]['trajectories'])]
    lines[0] = json.dumps(recs[0])[:-20]                                    # 1 broken JSON
    del lines[1]['study_id']                                                # 2 missing required field
    traj(2, 3, text=42)                                                     # 3 wrong type
    lines[3]['labels'] = {**recs[3]['labels'], 'Effusion': 1}               # 4 unknown pathology name
    lines[4]['labels'] = {**recs[4]['labels'], 'Edema': 2}                  # 5 label value out of range
    lines[5]['images'] = ['images/not_there.png']                           # 6 image path that does not exist
    lines[7]['study_id'] = recs[6]['study_id']                              # 8 duplicate study_id (of line 7)
    traj(8, 5, text='   ')                                                  # 9 empty trajectory text
    traj(9, 4, teacher=recs[9]['trajectories'][0]['teacher'])               # 10 the same teacher twice in one study
    lines.append({**recs[0], 'study_id': 'one-teacher', 'trajectories': recs[0]['trajectories'][:1]})  # 11 fewer than two teachers
    write(path, lines)
    want = {(1, '<json>', 'broken JSON'), (2, 'study_id', 'missing required field'), (3, 'trajectories[3].text', 'must be a string'),
            (4, 'labels.Effusion', 'unknown pathology'), (5, 'labels.Edema', 'out of range'), (6, 'images[0]', 'image file not found'),
            (8, 'study_id', 'duplicate study_id'), (9, 'trajectories[5].text', 'is empty'),
            (10, 'trajectories[4].teacher', 'appears twice'), (11, 'trajectories', 'at least two teachers')}
    r = run('validate', path)
    assert r.returncode != 0, r.stdout
    got = r.stdout.splitlines()
    eq_(len(got), len(want))                                                # one line per error, no more
    for line, field, words in sorted(want):
        hits = [l for l in got if l.startswith(f"{path}:{line}: {field}: ")]
        assert len(hits) == 1 and words in hits[0], (line, field, got)
    assert f"{len(want)} error(s) in 1 file(s)" in r.stderr
    r = run('validate', '--no_images', path)                                # the image check can be switched off
    assert not any(':6: images[0]' in l for l in r.stdout.splitlines()) and len(r.stdout.splitlines()) == len(want) - 1

def test_validate_several_files_and_a_missing_one(sample, tmp_path):
    path, recs = sample
    write(tmp_path/'b.jsonl', [recs[0], {**recs[1], 'labels': {'Edema': -2}}])
    r = run('validate', path, tmp_path/'b.jsonl', tmp_path/'nope.jsonl')
    eq_(r.returncode, 1)
    eq_(r.stdout.splitlines(), [f"{tmp_path/'b.jsonl'}:2: labels.Edema: label value -2 out of range; must be 1, 0 or -1",
                                f"{tmp_path/'nope.jsonl'}:0: <file>: file not found"])

def test_info(sample):
    path, recs = sample
    r = run('info', path)
    eq_(r.returncode, 0)
    out = r.stdout.splitlines()
    eq_(out[0], f"{path}: 10 studies, 70 trajectories, 7 teachers, 10 images")
    teachers = {t['teacher'] for t in recs[0]['trajectories']}
    eq_({l.split()[1] for l in out if l.strip().startswith('teacher ')}, teachers)
    assert all(l.split()[-2:] == ['10', 'trajectories'] for l in out if l.strip().startswith('teacher '))
    eff = sum('Pleural Effusion' in r.get('labels', {}) for r in recs)
    assert any(l.split()[:2] == ['Pleural', 'Effusion'] and l.split()[2] == str(eff) for l in out), out

def test_ms_swift_round_trip_keeps_every_trajectory(sample, tmp_path):
    "apo_kit JSONL -> ms-swift (SFT and DPO, in another folder) -> apo_kit JSONL next to the original: the same bytes."
    from apo_kit.data import load_studies, save_studies
    from apo_kit.formats import write_ms_swift, read_ms_swift
    path, recs = sample
    studies = load_studies(path)
    sft = write_ms_swift(studies, tmp_path/'swift'/'sft.jsonl')
    rows = [json.loads(l) for l in sft.read_text().splitlines()]
    eq_(len(rows), 70)
    eq_(rows[0]['images'], ['../images/' + Path(recs[0]['images'][0]).name])  # relative to the ms-swift file
    assert all(r['messages'][0]['content'].startswith('<image>') and r['messages'][-1]['role'] == 'assistant' for r in rows)
    eq_({(r['study_id'], r['teacher']) for r in rows}, {(s['study_id'], t['teacher']) for s in recs for t in s['trajectories']})
    save_studies(read_ms_swift(sft), tmp_path/'from_sft.jsonl')
    eq_((tmp_path/'from_sft.jsonl').read_bytes(), path.read_bytes())
    consensus = {s.study_id: f"Consensus for {s.study_id}: {s.trajectories[0].text[:40]}" for s in studies}
    dpo = write_ms_swift(studies, tmp_path/'swift'/'dpo.jsonl', chosen=consensus)
    rows = [json.loads(l) for l in dpo.read_text().splitlines()]
    eq_(len(rows), 70)                                                      # every teacher is rejected once
    assert all(r['rejected_response'] != r['messages'][-1]['content'] for r in rows)
    got = {}
    save_studies(read_ms_swift(dpo, chosen=got), tmp_path/'from_dpo.jsonl')
    eq_((tmp_path/'from_dpo.jsonl').read_bytes(), path.read_bytes())
    eq_(got, consensus)

def test_ms_swift_samples_are_the_sample(tmp_path):
    "data_samples/ms_swift/ holds exactly the NIH sample, and its image paths resolve from there."
    from apo_kit.data import load_studies, study_to_dict
    from apo_kit.formats import read_ms_swift
    root = ROOT/'data_samples'
    want = [study_to_dict(s, root) for s in load_studies(SAMPLE)]
    for name in ('nih_multimodel_sft.jsonl', 'nih_multimodel_dpo.jsonl'):
        eq_([study_to_dict(s, root) for s in read_ms_swift(root/'ms_swift'/name, check_images=True)], want)

def test_ms_swift_samples_are_fresh_and_show_what_the_trainers_show(sample, tmp_path):
    "The shipped ms-swift files are what `tools/make_samples.py --ms-swift` writes today, and their user turn is `study_text`."
    import importlib.util
    from apo_kit.data import load_studies, study_text
    from apo_kit.formats import write_ms_swift, IMAGE_TAG
    spec = importlib.util.spec_from_file_location('make_samples', ROOT/'tools'/'make_samples.py')
    ms = importlib.util.module_from_spec(spec); spec.loader.exec_module(ms)
    path, _ = sample
    studies = load_studies(path)                                            # a copy: writing next to it leaves the repo alone
    fresh = {'nih_multimodel_sft.jsonl': write_ms_swift(studies, tmp_path/'ms_swift'/'nih_multimodel_sft.jsonl'),
             'nih_multimodel_dpo.jsonl': write_ms_swift(studies, tmp_path/'ms_swift'/'nih_multimodel_dpo.jsonl',
                                                        chosen=lambda s: s.trajectory(ms.DPO_CHOSEN_TEACHER).text)}
    for name, p in fresh.items():
        eq_((ROOT/'data_samples'/'ms_swift'/name).read_bytes(), p.read_bytes())   # else: python tools/make_samples.py --ms-swift
    by_id = {s.study_id: s for s in studies}
    for l in fresh['nih_multimodel_sft.jsonl'].read_text().splitlines():
        r = json.loads(l)
        eq_(r['messages'][0]['content'], IMAGE_TAG * len(r['images']) + study_text(by_id[r['study_id']]))

def test_datasets_and_parquet_round_trips_are_byte_identical(sample, tmp_path):
    from apo_kit.data import load_studies, save_studies
    from apo_kit.formats import to_dataset, from_dataset, save_parquet, load_parquet
    import datasets
    path, _ = sample
    ds = to_dataset(load_studies(path))
    assert isinstance(ds, datasets.Dataset) and len(ds) == 10
    ds.save_to_disk(str(tmp_path/'ds'))                                     # through Arrow on disk and back
    save_studies(from_dataset(datasets.load_from_disk(str(tmp_path/'ds')), root=tmp_path), tmp_path/'from_ds.jsonl')
    eq_((tmp_path/'from_ds.jsonl').read_bytes(), path.read_bytes())
    save_parquet(load_studies(path), tmp_path/'pq'/'sample.parquet')
    save_studies(load_parquet(tmp_path/'pq'/'sample.parquet'), tmp_path/'from_pq.jsonl')
    eq_((tmp_path/'from_pq.jsonl').read_bytes(), path.read_bytes())

def test_validate_and_info_read_ms_swift_and_parquet_files(sample, tmp_path):
    "The CLI takes the other formats apo_kit writes; errors name the ms-swift row and field."
    from apo_kit.data import load_studies
    from apo_kit.formats import write_ms_swift, save_parquet
    path, _ = sample
    studies = load_studies(path)
    sft = write_ms_swift(studies, tmp_path/'swift'/'sft.jsonl')
    pq = save_parquet(studies, tmp_path/'sample.parquet')
    r = run('validate', sft, pq)
    eq_((r.returncode, r.stdout), (0, ''))
    eq_(run('info', pq).stdout.splitlines()[0], f"{pq}: 10 studies, 70 trajectories, 7 teachers, 10 images")
    rows = sft.read_text().splitlines()
    bad = json.loads(rows[11]); bad['messages'][-1]['content'] = ''         # line 12: an empty trajectory
    rows[11] = json.dumps(bad)
    sft.write_text('\n'.join(rows) + '\n')
    r = run('validate', sft)
    eq_((r.returncode, r.stdout.splitlines()), (1, [f"{sft}:12: messages[1].content: trajectory text is empty"]))
