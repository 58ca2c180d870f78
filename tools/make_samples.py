"""Rebuild data_samples/ from the real third-party data in ../shared/data (run from the repository root).

nih_multimodel.jsonl: seven report-generation models (the teachers) on ten NIH ChestX-ray14 images, from the
ReXrank repository. NIH finding labels become CheXpert labels where the two vocabularies name the same finding;
the original labels are kept in `meta` either way. Images are downscaled to 256x256 to keep the repository small."""
import csv, shutil, sys
from pathlib import Path
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from apo_kit.data import PATHOLOGIES, Study, Trajectory, save_studies

SRC = ROOT.parent/'shared'/'data'/'rexrank_nih_multimodel'
OUT = ROOT/'data_samples'
# NIH ChestX-ray14 label -> CheXpert observation, where both name the same finding
NIH_TO_CHEXPERT = {'Atelectasis': 'Atelectasis', 'Cardiomegaly': 'Cardiomegaly', 'Consolidation': 'Consolidation',
                   'Edema': 'Edema', 'Effusion': 'Pleural Effusion', 'Pneumonia': 'Pneumonia',
                   'Pneumothorax': 'Pneumothorax', 'Mass': 'Lung Lesion', 'Nodule': 'Lung Lesion',
                   'Pleural_Thickening': 'Pleural Other', 'No Finding': 'No Finding'}
IMAGE_SIZE = 256

def nih_labels(cell: str) -> tuple[dict, list[str]]:
    "CheXpert labels from an NIH label cell: listed mapped findings are 1, mapped findings not listed are 0."
    found = [x for x in cell.split('|') if x]
    labels = {c: 0 for c in PATHOLOGIES if c in NIH_TO_CHEXPERT.values() and c != 'No Finding'}
    for x in found:
        if x in NIH_TO_CHEXPERT: labels[NIH_TO_CHEXPERT[x]] = 1
    if found == ['No Finding']: labels['No Finding'] = 1
    return labels, [x for x in found if x not in NIH_TO_CHEXPERT]

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

if __name__ == '__main__': main()
