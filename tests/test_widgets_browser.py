"""A real browser: JupyterLab on 127.0.0.1 runs a notebook showing both widgets on data_samples, Debian's chromium
(driven by Playwright) finds the inspector, changes the study, and sees the page change.

Set APO_KIT_SCREENSHOTS=<dir> to keep the screenshots (the README's come from `APO_KIT_SCREENSHOTS=nbs/images`)."""
import json, os, secrets, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--no-first-run', '--disable-sync']
CELLS = [f"""from apo_kit.data import load_studies
from apo_kit.widgets import DisagreementExplorer, PreferenceInspector, inspection_records
nih = load_studies({str(ROOT/'data_samples'/'nih_multimodel.jsonl')!r})""",
         "ex = DisagreementExplorer(nih, max_side=96)\nex.pathology.value = 'Pleural Effusion'\nex",
         "insp = PreferenceInspector(inspection_records(nih), max_side=96)\ninsp"]

def chromium() -> Path:
    "The system chromium, installed with apt-get when missing and running as root; else skip, saying why."
    if CHROMIUM.exists(): return CHROMIUM
    if os.geteuid() != 0:
        pytest.skip(f"{CHROMIUM} is missing and installing it needs root: apt-get install -y chromium")
    if not shutil.which('apt-get'): pytest.skip(f"{CHROMIUM} is missing and there is no apt-get to install it")
    r = subprocess.run('apt-get update && apt-get install -y chromium', shell=True, capture_output=True, text=True,
                       timeout=1200, env={**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'})
    if r.returncode or not CHROMIUM.exists(): pytest.skip(f"apt-get could not install chromium: {r.stderr[-400:]}")
    return CHROMIUM

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def write_notebook(path):
    cells = [dict(cell_type='code', source=c, metadata={}, outputs=[], execution_count=None) for c in CELLS]
    spec = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    nb = dict(cells=cells, metadata={'kernelspec': spec}, nbformat=4, nbformat_minor=5)
    path.write_text(json.dumps(nb))

@pytest.fixture
def lab(tmp_path):
    "A JupyterLab server on a free port of 127.0.0.1 with a token, its state in tmp_path; (url, token, notebook)."
    port, token = free_port(), secrets.token_hex(16)
    (tmp_path/'root').mkdir()
    write_notebook(tmp_path/'root'/'widgets_check.ipynb')
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'JUPYTER_CONFIG_DIR': str(tmp_path/'cfg'),
           'JUPYTER_RUNTIME_DIR': str(tmp_path/'rt'), 'JUPYTERLAB_SETTINGS_DIR': str(tmp_path/'settings'),
           'JUPYTERLAB_WORKSPACES_DIR': str(tmp_path/'ws'), 'PYTHONPATH': str(ROOT)}
    cmd = [sys.executable, '-m', 'jupyterlab', '--ip=127.0.0.1', f'--port={port}', '--ServerApp.port_retries=0',
           f'--IdentityProvider.token={token}', '--ServerApp.open_browser=False',
           f'--ServerApp.root_dir={tmp_path/"root"}',
           '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
           *(['--allow-root'] if os.geteuid() == 0 else [])]
    news = tmp_path/'settings'/'@jupyterlab'/'apputils-extension'
    news.mkdir(parents=True); (news/'notification.jupyterlab-settings').write_text('{"fetchNews": "false"}')
    log = open(tmp_path/'lab.log', 'w')
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            if proc.poll() is not None: pytest.fail(f"jupyter lab exited: {(tmp_path/'lab.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2); break
            except OSError: time.sleep(.5)
        else: pytest.fail("jupyter lab did not answer within 60 s")
        yield url, token, 'widgets_check.ipynb'
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
        log.close()

def shown_study(output):
    "The study id in an inspector's rendered header."
    return output.locator('.ak-study').first.get_attribute('data-study')

def shrink_png(path):
    "Palette PNG (256 colours): a screenshot small enough for a README."
    from PIL import Image
    with Image.open(path) as im: im = im.convert('RGB')
    im.quantize(256).save(path, optimize=True)

def screenshot_top(page, element, path, height=1000):
    "The top of `element` as it shows on screen (scrolled to the top of the notebook), as a small palette PNG."
    element.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    box = element.bounding_box()
    bottom = page.locator('.jp-NotebookPanel').bounding_box()
    h = min(box['height'], height, bottom['y'] + bottom['height'] - box['y'])
    page.screenshot(path=str(path), clip=dict(x=box['x'], y=box['y'], width=box['width'], height=h))
    shrink_png(path)

@pytest.mark.slow
def test_widgets_in_jupyterlab(lab, tmp_path):
    exe = chromium()
    sync_api = pytest.importorskip('playwright.sync_api', reason='needs playwright (pip install playwright)')
    url, token, nb = lab
    shots = Path(os.environ.get('APO_KIT_SCREENSHOTS') or tmp_path)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(exe), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={'width': 1400, 'height': 1150})
            page.set_default_timeout(int(os.environ.get('APO_KIT_BROWSER_TIMEOUT', 120)) * 1000)
            page.goto(f"{url}/lab/tree/{nb}?token={token}")
            page.wait_for_selector('.jp-NotebookPanel .jp-Cell', state='visible')
            try: page.locator('.jp-Dialog').get_by_role('button', name='Select').click(timeout=20_000)  # kernel choice
            except sync_api.TimeoutError: pass                             # (some versions start the kernel directly)
            page.locator('.lm-MenuBar-itemLabel', has_text='Run').first.click()
            page.locator('.lm-Menu-itemLabel', has_text='Run All Cells').first.click()
            cells = page.locator('.jp-NotebookPanel .jp-CodeCell')
            explorer, inspector = cells.nth(1).locator('.jp-OutputArea'), cells.nth(2).locator('.jp-OutputArea')
            try:
                inspector.locator('.ak-study').wait_for()                  # the kernel ran, the widgets rendered
                explorer.locator('.ak-study').wait_for()
            except sync_api.TimeoutError:
                page.screenshot(path=str(tmp_path/'failure.png'))
                pytest.fail(f"the widgets did not render (screenshot {tmp_path/'failure.png'}); outputs: "
                            f"{[o[:500] for o in page.locator('.jp-OutputArea').all_inner_texts()]}; lab log: "
                            f"{(tmp_path/'lab.log').read_text()[-1500:]}")
            first = shown_study(inspector)
            inspector.get_by_role('button', name='next ›').click()          # change the study: next
            sync_api.expect(inspector.locator('.ak-study').first).not_to_have_attribute('data-study', first)
            second = shown_study(inspector)
            assert second != first
            target = inspector.locator('select').last                        # change the study: the dropdown
            ids = target.locator('option').all_inner_texts()
            target.select_option(ids[-1])
            inspector.locator(f".ak-study[data-study='{ids[-1]}']").wait_for()
            assert inspector.locator('.ak-card').count() >= 2               # consensus beside the teachers
            listed = explorer.locator('select[multiple], select[size]').first   # the explorer's ranked list
            pick = listed.locator('option').nth(1).inner_text()
            listed.select_option(pick)
            explorer.locator(f".ak-study[data-study='{pick}']").wait_for()  # it opened in the explorer's inspector
            shots.mkdir(parents=True, exist_ok=True)
            for name, out in (('widgets_inspector.png', inspector), ('widgets_explorer.png', explorer)):
                screenshot_top(page, out, shots/name)
                assert (shots/name).stat().st_size > 10_000
        finally: browser.close()
