"""Rebuild data_samples/ from the real third-party data in ../shared/data (run from the repository root).

nih_multimodel.jsonl: seven report-generation models (the teachers) on ten NIH ChestX-ray14 images, from the
ReXrank repository. NIH finding labels become CheXpert labels where the two vocabularies name the same finding;
the original labels are kept in `meta` either way. Images are downscaled to 256x256 to keep the repository small.

ms_swift/: the same studies exported in ms-swift's format, to show interop (`python tools/make_samples.py --ms-swift`
rebuilds only these from nih_multimodel.jsonl):
- nih_multimodel_sft.jsonl: one SFT row per study x teacher (70 rows), what `swift sft` trains on.
- nih_multimodel_dpo.jsonl: a FORMAT DEMO of DPO rows, what `swift rlhf --rlhf_type dpo` trains on. The sample has no
  consensus answer (stage 2 writes those) and no free-text reference report, so the chosen answer of every row is
  DPO_CHOSEN_TEACHER's report and the rejected answers are the other six reports (60 rows). This is not a judgement that
  one model is better; it only shows the layout."""
import csv, shutil, sys
from pathlib import Path
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from apo_kit.data import PATHOLOGIES, Study, Trajectory, save_studies, load_studies
from apo_kit.formats import write_ms_swift

SRC = ROOT.parent/'shared'/'data'/'rexrank_nih_multimodel'
OUT = ROOT/'data_samples'
# NIH ChestX-ray14 label -> CheXpert observation, where both name the same finding
NIH_TO_CHEXPERT = {'Atelectasis': 'Atelectasis', 'Cardiomegaly': 'Cardiomegaly', 'Consolidation': 'Consolidation',
                   'Edema': 'Edema', 'Effusion': 'Pleural Effusion', 'Pneumonia': 'Pneumonia',
                   'Pneumothorax': 'Pneumothorax', 'Mass': 'Lung Lesion', 'Nodule': 'Lung Lesion',
                   'Pleural_Thickening': 'Pleural Other', 'No Finding': 'No Finding'}
IMAGE_SIZE = 256
DPO_CHOSEN_TEACHER = 'MedVersa'            # format demo only: see the module docstring

def nih_labels(cell: str) -> tuple[dict, list[str]]:
    "CheXpert labels from an NIH label cell: listed mapped findings are 1, mapped findings not listed are 0."
    found = [x for x in cell.split('|') if x]
    labels = {c: 0 for c in PATHOLOGIES if c in NIH_TO_CHEXPERT.values() and c != 'No Finding'}
    for x in found:
        if x in NIH_TO_CHEXPERT: labels[NIH_TO_CHEXPERT[x]] = 1
    if found == ['No Finding']: labels['No Finding'] = 1
    return labels, [x for x in found if x not in NIH_TO_CHEXPERT]

def ms_swift_samples():
    "ms-swift SFT and DPO exports of nih_multimodel.jsonl, image paths relative to data_samples/ms_swift/."
    studies = load_studies(OUT/'nih_multimodel.jsonl')
    sft = write_ms_swift(studies, OUT/'ms_swift'/'nih_multimodel_sft.jsonl')
    dpo = write_ms_swift(studies, OUT/'ms_swift'/'nih_multimodel_dpo.jsonl', chosen=lambda s: s.trajectory(DPO_CHOSEN_TEACHER).text)
    for p in (sft, dpo): print(f"wrote {sum(1 for _ in open(p))} ms-swift rows to {p}")

def main():
    (OUT/'images').mkdir(parents=True, exist_ok=True)
    rows = list(csv.DictReader(open(SRC/'nih.csv', encoding='utf-8')))
    teachers = [c[:-len('_prediction')] for c in rows[0] if c.endswith('_prediction')]
    studies = []
    for r in rows:
        name = Path(r['image_path']).name
        Image.open(SRC/'images'/name).convert('L').resize((IMAGE_SIZE, IMAGE_SIZE), Image.LANCZOS).save(OUT/'images'/name, optimize=True)
        labels, unmapped = nih_labels(r['report'])
        ctx = dict(kv.split(':', 1) for kv in r['context'].strip('.').split('.') if ':' in kv)
        studies.append(Study(r['subject_id'], [Trajectory(t, r[f'{t}_prediction'].strip()) for t in teachers],
                             images=[f'images/{name}'], labels=labels, root=OUT,
                             context={k.strip().lower(): v.strip() for k, v in ctx.items()},
                             meta={'source': 'ReXrank example_files/nih.csv', 'nih_labels': r['report'].split('|'),
                                   'nih_labels_not_in_chexpert': unmapped}))
    save_studies(studies, OUT/'nih_multimodel.jsonl')
    shutil.copy(SRC/'LICENSE.ReXrank.MIT', OUT/'LICENSE.ReXrank.MIT')
    print(f"wrote {len(studies)} studies x {len(teachers)} teachers to {OUT/'nih_multimodel.jsonl'}")

if __name__ == '__main__':
    if '--ms-swift' not in sys.argv: main()
    ms_swift_samples()
