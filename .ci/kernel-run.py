#!/usr/bin/env python3
"""Executes notebooks through Jupyter's nbclient on the real .NET Interactive kernel (kernelspec `.net-csharp`).

    kernel-run.py --output DIR [--quick] [--offline] [--param Name=Value]... NOTEBOOK...

Parameters are injected as papermill does: a new code cell tagged `injected-parameters`, right after the cell tagged
`parameters`, redeclares each overridden C# variable with its declared type (`--quick` means `Quick=true`). A notebook
fails on any error output, on standard-error text that reports an error, on a chart that does not display as a
chart (an object dump instead of plotly's HTML), and on a chart that cannot draw without the internet: every chart
output must carry the figure as `application/vnd.plotly.v1+json` (drawn natively, offline, by VS Code's and
JupyterLab's renderers) and HTML whose plotly.js comes first from the Jupyter server's own copy (`kernel install` puts
it into nbextensions/), the CDN only as a fallback. `--offline` first checks that the internet is unreachable (run it
under `unshare -n` with loopback up, as .ci/run does) and stops if it is not. Executed notebooks are written to DIR
(temp file, then rename).
Needs Debian's python3-nbclient and the kernelspec (`dotnet run --project src/NotebookRunner -- kernel install`).
"""
import argparse, json, os, re, socket, sys, tempfile, time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

DECLARATION = re.compile(r"^\s*(?P<type>[A-Za-z_][\w<>\[\],.?]*)\s+(?P<name>[A-Za-z_]\w*)\s*=", re.MULTILINE)


def inject(nb, values, name):
    if not values:
        return
    index = next((i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if index is None:
        sys.exit(f"{name}: no cell is tagged 'parameters', so {', '.join(values)} cannot be set")
    declared = {m["name"]: m["type"] for m in DECLARATION.finditer(nb.cells[index].source)}
    lines = ["// Parameters injected by .ci/kernel-run.py (--param / --quick)."]
    for key, value in values.items():
        if key not in declared:
            sys.exit(f"{name}: parameter {key} is not declared in the parameters cell (it declares: {', '.join(declared)})")
        kind = declared[key]
        literal = value.lower() if kind == "bool" else json.dumps(value) if kind == "string" else value
        lines.append(f"{kind} {key} = {literal};")
    cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)


def text(value):
    return "".join(value) if isinstance(value, list) else (value or "")


LOCAL_PLOTLY = "nbextensions/efficient-attention/plotly-"
CDN_PLOTLY = "https://cdn.plot.ly/plotly-"


def offline_problem(data, html):
    """Why a chart output could not draw without the internet (None: it can)."""
    figure = data.get("application/vnd.plotly.v1+json")
    if isinstance(figure, (str, list)):
        try:
            figure = json.loads(text(figure))
        except ValueError:
            return "its application/vnd.plotly.v1+json is not JSON"
    if not isinstance(figure, dict) or not isinstance(figure.get("data"), list) or "layout" not in figure:
        return "no application/vnd.plotly.v1+json figure (data and layout) for renderers that draw offline"
    local, cdn = html.find(LOCAL_PLOTLY), html.find(CDN_PLOTLY)
    if local < 0 or (0 <= cdn < local):
        return "its HTML loads plotly.js from the internet first, not from the Jupyter server's nbextensions/"
    return None


def internet_reachable():
    try:
        socket.create_connection(("cdn.plot.ly", 443), timeout=5).close()
        return True
    except OSError:
        return False


def problems(nb):
    """Error outputs, error text on stderr, charts that did not display as charts; and the number of charts."""
    found, charts = [], 0
    for number, cell in enumerate(nb.cells, 1):
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "error":
                found.append(f"cell {number}: {output.get('ename')}: {output.get('evalue')}")
            elif kind == "stream" and output.get("name") == "stderr":
                stream = text(output.get("text"))
                if re.search(r"\berror\b", stream, re.IGNORECASE):
                    found.append(f"cell {number}: standard error: {stream.strip()[:300]}")
                else:
                    print(f"    note: cell {number} wrote to standard error: {stream.strip()[:200]}")
            elif kind in ("display_data", "execute_result"):
                html = text(output.get("data", {}).get("text/html"))
                if "Plotly.newPlot" in html:
                    charts += 1
                    why = offline_problem(output.get("data", {}), html)
                    if why:
                        found.append(f"cell {number}: a chart that cannot draw offline: {why}")
                elif "GenericChart" in html or "GenericChart" in text(output.get("data", {}).get("text/plain")):
                    found.append(f"cell {number}: a chart displayed as an object dump, not as a chart")
    return found, charts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--output", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--param", action="append", default=[])
    parser.add_argument("--timeout", type=int, default=1800, help="seconds each cell may run")
    parser.add_argument("--offline", action="store_true", help="check first that the internet is unreachable")
    args = parser.parse_args()
    if args.offline and internet_reachable():
        sys.exit("kernel-run: --offline, but cdn.plot.ly is reachable; run under `unshare -n` with loopback up")
    values = dict(p.split("=", 1) for p in args.param)
    if args.quick:
        values["Quick"] = "true"
    os.makedirs(args.output, exist_ok=True)
    failed, start = 0, time.time()
    for path in args.notebooks:
        name = os.path.basename(path)
        nb = nbformat.read(path, as_version=4)
        inject(nb, values, name)
        clock = time.time()
        print(f"kernel-run: {name} …", flush=True)
        client = NotebookClient(nb, timeout=args.timeout, startup_timeout=300, kernel_name=".net-csharp",
                                allow_errors=True, resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
        try:
            client.execute()
        except (CellExecutionError, CellTimeoutError, RuntimeError) as e:
            print(f"kernel-run: {name}: {e}", file=sys.stderr)
            failed += 1
        found, charts = problems(nb)
        uses_plots = any("Plots." in c.source for c in nb.cells if c.cell_type == "code")
        if uses_plots and charts == 0:
            found.append("the notebook draws charts but none displayed as a chart")
        target = os.path.join(args.output, name)
        with tempfile.NamedTemporaryFile("w", dir=args.output, suffix=".tmp", delete=False, encoding="utf-8") as tmp:
            nbformat.write(nb, tmp)
        os.replace(tmp.name, target)
        for p in found:
            print(f"kernel-run: {name}, {p}", file=sys.stderr)
        failed += bool(found)
        print(f"kernel-run: {name}: {'FAILED' if found else 'ok'}, {charts} chart(s), {time.time() - clock:.0f} s -> {target}", flush=True)
    print(f"kernel-run: {len(args.notebooks)} notebook(s), {failed} failed, {time.time() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
