#!/usr/bin/env python3
"""test_catalog.py - the catalog on a real broker: stockctl import, merge of sources, search, duplicates.

Starts one stockd (all roles; its own data dir, topic prefix and port, 3 partitions) and, over real HTTP and
the real stockctl binary:
  - imports a CSV with odd white space (tabs, NBSP, CRLF, a quoted line break), case-variant and spaced
    headers, repeated rows, a SKU given twice with other data, bad rows (malformed SKU, wrong GTIN check
    digit, nothing but the SKU, a wrong field count, a SKU never created), and checks the report (line
    numbers and reasons) and the cleaned entries; then imports it again: the second run sends nothing;
  - a second source over HTTP: the merge takes the most recent value, field by field;
  - catalog.source_precedence=pim (stockd and stockctl verify): pim's fields stand against a later source's,
    which fills only what pim left empty;
  - Unicode NFC: a CSV in NFD imports as NFC, the same file in NFC (and the NFD one again) sends nothing,
    decomposed text over HTTP is stored and searched as composed;
  - search: ranking (name before description), keyset cursors bound to their q, min_position;
  - hostile queries (FTS5 syntax characters, 10 KB, NUL, 17 words, white space only) get 400 problem+json,
    never 500, and the server keeps answering;
  - duplicates: the SKUs sharing a GTIN (UPC-A and EAN-13 of one product count as one GTIN).
Reuses test_http.py's harness. Environment (ctest sets it): STOCKD_BINARY, STOCKCTL_BINARY,
STOCKD_TEST_BOOTSTRAP, STOCKD_TOPIC_OFFSETS, STOCKD_TOPICS_DELETE; STOCKD_KEEP=1 keeps files and topics.
"""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import unicodedata
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_http  # noqa: E402  (the harness: Run, Stockd, Cases, expect, sync, create_sku, ...)
from test_http import Cases, Stockd, check, create_sku, expect, say, sync  # noqa: E402

VIEW_TIMEOUT_S = 30  # the catalog view reaches what was sent
PRECEDENCE = "pim"  # catalog.source_precedence of the instance and of verify: the other sources are unnamed
IMPORT_TIMEOUT_S = 120  # one stockctl import of a dozen rows, generously

GTIN_EAN = "4006381333931"
GTIN_UPC = "036000291452"  # UPC-A; "0036000291452" is the same product as EAN-13


class Catalog:
    def __init__(self, run, instance):
        self.run = run
        self.a = instance
        self.stockctl = os.environ.get("STOCKCTL_BINARY")
        check(self.stockctl and os.access(self.stockctl, os.X_OK), f"STOCKCTL_BINARY {self.stockctl!r}")
        self.skus = {name: test_http.unique("CAT-" + name) for name in ("BLUE", "DELUXE", "RED", "SPANNER", "CAN", "COLA", "PREC", "CAFE")}
        self.ghost = test_http.unique("CAT-GHOST")  # never created

    def import_file(self, path, source, *extra):
        result = subprocess.run([self.stockctl, "import", path, "--source", source,
                                 f"--url=http://127.0.0.1:{self.a.port}", *extra],
                                capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S)
        say(f"    stockctl import -> {result.returncode}\n    stdout: {result.stdout.strip()}\n"
            f"    stderr: {result.stderr.strip()}")
        match = re.search(r"(\d+) rows, (\d+) (?:sent|to send \(dry run\)), (\d+) unchanged, (\d+) repeated, (\d+) refused", result.stdout)
        check(match, f"no summary in {result.stdout!r}")
        counts = dict(zip(("rows", "sent", "unchanged", "repeated", "refused"), map(int, match.groups())))
        return result, counts

    def wait_catalog(self, sku, predicate, what):
        deadline = time.monotonic() + VIEW_TIMEOUT_S
        while True:
            answer = self.a.get(f"/v1/skus/{sku}/catalog")
            if answer.status == 200 and predicate(answer.json):
                return answer
            check(answer.status in (200, 404), f"{answer}")
            check(time.monotonic() < deadline, f"{sku}: {what} not in the catalog view within {VIEW_TIMEOUT_S} s: {answer}")
            time.sleep(0.1)


def case_create_skus(catalog):
    for sku in catalog.skus.values():
        create_sku(catalog.a, sku)


def csv_text(catalog):
    s = catalog.skus
    rows = [
        ' SKU ,Name,  Brand ,Description,Colour  Name,EAN\r\n',                                  # 1 header
        f'{s["BLUE"]},"  Blue \t  widget ",Acme,A small widget,\u00a0navy  blue ,{GTIN_EAN}\r\n',  # 2
        f'{s["DELUXE"]},Blue widget deluxe,Widgetco,"The deluxe one,\nin blue",,400-6381-333931\r\n',  # 3-4
        f'{s["RED"]},Red widget,Acme,Goes well with a blue widget,red,\r\n',                     # 5
        f'{s["RED"]},Red widget,Acme,Goes well with a blue widget,red,\r\n',                     # 6 repeated
        f'{s["SPANNER"]},Spanner,Acme,,,\r\n',                                                   # 7
        f'{s["SPANNER"]},Big spanner,Acme,,,\r\n',                                               # 8 other data
        'bad sku!,Thing,,,,\r\n',                                                                # 9 malformed SKU
        f'{s["CAN"]},Cola can,,,,4006381333932\r\n',                                             # 10 check digit
        f'{s["COLA"]},,,,,\r\n',                                                                 # 11 nothing
        f'{s["COLA"]},too,few\r\n',                                                              # 12 field count
        f'{catalog.ghost},Ghost widget,,,,\r\n',                                                 # 13 unknown SKU
        f'{s["CAN"]},Cola 330 ml can,,,,{GTIN_UPC}\r\n',                                         # 14 (CAN again)
    ]
    return "".join(rows)


def case_import_twice(catalog):
    path = os.path.join(catalog.run.root, "catalog.csv")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(csv_text(catalog))
    s = catalog.skus
    first, counts = catalog.import_file(path, "erp")
    check(first.returncode == 1, f"refused rows: exit 1, got {first.returncode}")
    # Rows 2, 3, 5, 7, 13 are sent (13's SKU was never created: stockd rejects it, asynchronously);
    # 14 gives CAN a second time, after line 10 was refused: its first valid row.
    check(counts == {"rows": 12, "sent": 6, "unchanged": 0, "repeated": 1, "refused": 5}, f"first run: {counts}")
    expected_refusals = {
        8: "is given by line 7 already",
        9: "is not 1-64 of",
        10: "check digit",
        11: "nothing but the SKU",
        12: "3 fields, the header has 6",
    }
    for line, reason in expected_refusals.items():
        check(re.search(rf"catalog\.csv:{line}: .*{re.escape(reason)}", first.stderr), f"line {line}: no '{reason}'")
    # The cleaned entries, once the view has them.
    blue = catalog.wait_catalog(s["BLUE"], lambda body: body["name"] is not None, "BLUE").json
    check(blue["name"] == "Blue widget", f"name not cleaned: {blue['name']!r}")
    check(blue["brand"] == "Acme" and blue["description"] == "A small widget", f"{blue}")
    check(blue["attributes"] == {"colour_name": "navy blue", "gtin": GTIN_EAN}, f"attributes: {blue['attributes']}")
    check([source["source"] for source in blue["sources"]] == ["erp"], f"sources: {blue['sources']}")
    deluxe = catalog.wait_catalog(s["DELUXE"], lambda body: True, "DELUXE").json
    check(deluxe["description"] == "The deluxe one, in blue", f"quoted line break: {deluxe['description']!r}")
    check(deluxe["attributes"] == {"gtin": GTIN_EAN}, f"gtin not cleaned of '-': {deluxe['attributes']}")
    spanner = catalog.wait_catalog(s["SPANNER"], lambda body: True, "SPANNER").json
    check(spanner["name"] == "Spanner", f"the first row of a SKU wins: {spanner['name']}")
    catalog.wait_catalog(s["CAN"], lambda body: True, "CAN")
    catalog.wait_catalog(s["RED"], lambda body: True, "RED")
    # The ghost's rejection, once decided, is in the outcomes view (the second run asks it).
    test_http.poll_outcome(catalog.a, ghost_command_id(catalog))

    second, counts = catalog.import_file(path, "erp")
    check(counts["sent"] == 0, f"the second run sent {counts['sent']}: {counts}")
    check(counts == {"rows": 12, "sent": 0, "unchanged": 5, "repeated": 1, "refused": 6}, f"second run: {counts}")
    check(re.search(r"catalog\.csv:13: stockd rejected it earlier: unknown_sku", second.stderr),
          "the ghost row is reported with stockd's reason")
    dry, counts = catalog.import_file(path, "erp", "--dry-run")
    check(counts["sent"] == 0, f"dry run after two runs: {counts}")


def ghost_command_id(catalog):
    """The id of the UpdateCatalog stockd rejected for the ghost SKU, from its history (polled)."""
    deadline = time.monotonic() + VIEW_TIMEOUT_S
    while True:
        items = expect(catalog.a.get(f"/v1/skus/{catalog.ghost}/history"), 200).json["items"]
        if items:
            check(items[0]["type"] == "CommandRejected", f"ghost: {items}")
            check(items[0]["command_id"].startswith(f"cat:erp:{catalog.ghost}:"), f"ghost id: {items[0]}")
            return items[0]["command_id"]
        check(time.monotonic() < deadline, f"no ghost event within {VIEW_TIMEOUT_S} s")
        time.sleep(0.1)


def case_import_json_lines(catalog):
    s = catalog.skus
    path = os.path.join(catalog.run.root, "feed.jsonl")
    lines = [
        {"sku": s["RED"], "name": " Red  widget ", "attributes": {"Size": " L ", "EAN": "9638-5074"}, "material": "steel"},
        "not an object",
        {"sku": s["SPANNER"], "name": 42},
        {"sku": s["CAN"], "brand": "Fizz", "brand ": "x"},
        {"sku": s["CAN"], "brand": "Fizz", "attributes": {"size": "330 ml"}, "Size": "0.33 l"},
    ]
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write((json.dumps(line) if isinstance(line, dict) else line) + "\n")
        f.write("\n")  # an empty line is no row
    result, counts = catalog.import_file(path, "feed")
    check(counts == {"rows": 5, "sent": 1, "unchanged": 0, "repeated": 0, "refused": 4}, f"jsonl: {counts}")
    for line, reason in {2: "not a JSON object", 3: "name must be a string", 4: "brand is given twice",
                         5: "attribute size is given twice"}.items():
        check(re.search(rf"feed\.jsonl:{line}: .*{re.escape(reason)}", result.stderr), f"line {line}: no '{reason}'")
    red = catalog.wait_catalog(s["RED"], lambda body: any(x["source"] == "feed" for x in body["sources"]), "feed").json
    feed = next(x for x in red["sources"] if x["source"] == "feed")
    check(feed["name"] == "Red widget", f"{feed}")
    check(feed["attributes"] == {"gtin": "96385074", "material": "steel", "size": "L"}, f"{feed['attributes']}")
    again, counts = catalog.import_file(path, "feed", "--format", "jsonl")
    check(counts["sent"] == 0 and counts["unchanged"] == 1, f"jsonl again: {counts}")


def case_second_source_merges_most_recent(catalog):
    s = catalog.skus
    answer = sync(catalog.a, f"/v1/skus/{s['BLUE']}/catalog",
                  {"source": "shop", "name": "Blue widget XL", "attributes": {"colour_name": "cobalt"}}, 200)
    position = answer.json["position"]
    entry = expect(catalog.a.get(f"/v1/skus/{s['BLUE']}/catalog?min_position={position}"), 200).json
    check(entry["name"] == "Blue widget XL", f"most recent name: {entry['name']}")
    check(entry["brand"] == "Acme", f"shop has no brand: erp's stays: {entry['brand']}")
    check(entry["attributes"] == {"colour_name": "cobalt", "gtin": GTIN_EAN}, f"merged attributes: {entry['attributes']}")
    check(entry["attribute_sources"] == {"colour_name": "shop", "gtin": "erp"}, f"{entry['attribute_sources']}")
    check([source["source"] for source in entry["sources"]] == ["shop", "erp"], f"{entry['sources']}")
    only = expect(catalog.a.get(f"/v1/skus/{s['BLUE']}/catalog?source=erp"), 200).json
    check([source["source"] for source in only["sources"]] == ["erp"], f"?source=erp: {only['sources']}")
    # Refusals at the command: a wrong check digit, text that is not clean, an unknown SKU.
    bad = expect(catalog.a.post(f"/v1/skus/{s['BLUE']}/catalog",
                                {"source": "shop", "attributes": {"gtin": "4006381333932"}}), 400, "invalid-body")
    check(bad.json.get("field") == "data.attributes.gtin", f"{bad}: field")
    expect(catalog.a.post(f"/v1/skus/{s['BLUE']}/catalog", {"source": "shop", "name": " padded"}), 400, "invalid-body")
    expect(catalog.a.post(f"/v1/skus/{s['BLUE']}/catalog", {"source": "shop", "attributes": {"Colour": "x"}}), 400,
           "invalid-body")
    answer = sync(catalog.a, f"/v1/skus/{test_http.unique('CAT-NONE')}/catalog", {"source": "shop", "name": "x"},
                  422, code="command-rejected")
    check(answer.json.get("reason") == "unknown_sku", f"{answer}")


def case_precedence_ranks_the_named_source_first(catalog):
    sku = catalog.skus["PREC"]
    sync(catalog.a, f"/v1/skus/{sku}/catalog", {"source": "pim", "name": "Gadget from the PIM", "brand": "Pimco"}, 200)
    answer = sync(catalog.a, f"/v1/skus/{sku}/catalog",
                  {"source": "shop", "name": "Gadget from the shop", "brand": "Shopco", "description": "Sold by the shop",
                   "attributes": {"colour": "red"}}, 200)
    entry = expect(catalog.a.get(f"/v1/skus/{sku}/catalog?min_position={answer.json['position']}"), 200).json
    check(entry["name"] == "Gadget from the PIM", f"pim outranks the later shop: {entry['name']}")
    check(entry["brand"] == "Pimco", f"brand: {entry['brand']}")
    check(entry["description"] == "Sold by the shop", f"shop fills what pim left empty: {entry['description']}")
    check(entry["attribute_sources"] == {"colour": "shop"}, f"{entry['attribute_sources']}")
    check([source["source"] for source in entry["sources"]] == ["shop", "pim"], f"most recent first: {entry['sources']}")


def case_import_decomposed_text_as_composed(catalog):
    sku = catalog.skus["CAFE"]
    composed = {"name": "Caf\u00e9 cr\u00e8me", "brand": "Cr\u00eape & Co", "finish": "mat\u00e9"}
    decomposed = {key: unicodedata.normalize("NFD", value) for key, value in composed.items()}
    check(decomposed["name"] != composed["name"], "the NFD text differs in bytes")

    def write(name, texts):
        path = os.path.join(catalog.run.root, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(f'sku,Name,Brand,Finish\n{sku},"  {texts["name"]} ",{texts["brand"]},{texts["finish"]}\n')
        return path

    nfd_path, nfc_path = write("nfd.csv", decomposed), write("nfc.csv", composed)
    result, counts = catalog.import_file(nfd_path, "web")
    check(result.returncode == 0 and counts["sent"] == 1, f"NFD file: {counts}")
    entry = catalog.wait_catalog(sku, lambda body: body["name"] is not None, "CAFE").json
    check(entry["name"] == composed["name"], f"stored composed: {entry['name']!r}")
    check(entry["brand"] == composed["brand"] and entry["attributes"] == {"finish": composed["finish"]}, f"{entry}")
    for path in (nfc_path, nfd_path):
        again, counts = catalog.import_file(path, "web")
        check(again.returncode == 0 and counts["sent"] == 0 and counts["unchanged"] == 1, f"{path}: {counts}")
    # Over HTTP, without stockctl: the server composes.
    answer = sync(catalog.a, f"/v1/skus/{sku}/catalog",
                  {"source": "pos", "description": unicodedata.normalize("NFD", "Cr\u00e8me br\u00fbl\u00e9e")}, 200)
    entry = expect(catalog.a.get(f"/v1/skus/{sku}/catalog?min_position={answer.json['position']}"), 200).json
    check(entry["description"] == "Cr\u00e8me br\u00fbl\u00e9e", f"stored composed: {entry['description']!r}")
    for query in ("br\u00fbl\u00e9e", unicodedata.normalize("NFD", "br\u00fbl\u00e9e"), "brulee"):
        hits = expect(search(catalog, query), 200).json["items"]
        check([hit["sku"] for hit in hits] == [sku], f"search {query!r}: {hits}")
    # A text NFC makes longer than its bound: 400 naming the field (U+0958 composes into two code points).
    bad = expect(catalog.a.post(f"/v1/skus/{sku}/catalog", {"source": "pos", "attributes": {"script": "\u0958" * 40}}),
                 400, "invalid-body")
    check(bad.json.get("field") == "data.attributes.script", f"{bad}: field")
    # Bytes that are not UTF-8 (a cut sequence, a surrogate): 400, saying so.
    for raw in (b'{"source":"pos","name":"Caf\xc3"}', b'{"source":"pos","brand":"\xed\xa0\x80"}'):
        bad = expect(catalog.a.request("POST", f"/v1/skus/{sku}/catalog", body=raw,
                                       headers={"Content-Type": "application/json"}), 400, "invalid-body")
        check("UTF-8" in bad.json.get("detail", ""), f"{bad}: detail")


def search(catalog, query, **params):
    params["q"] = query
    return catalog.a.get("/v1/skus?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote))


def case_search_ranking_and_cursors(catalog):
    s = catalog.skus
    answer = expect(search(catalog, "blue widget"), 200)
    check(answer.header("X-Stockd-Position") is not None, f"{answer}: no X-Stockd-Position")
    hits = [item["sku"] for item in answer.json["items"]]
    check(set(hits) == {s["BLUE"], s["DELUXE"], s["RED"]}, f"hits: {hits}")
    check(hits[-1] == s["RED"], f"a match in the description only ranks last: {hits}")
    scores = [item["score"] for item in answer.json["items"]]
    check(scores == sorted(scores), f"scores not ascending: {scores}")
    check(answer.json["next_cursor"] is None and answer.json["q"] == "blue widget", f"{answer.json}")
    paged, cursor = [], None
    for _ in range(10):
        params = {"limit": "1"}
        if cursor:
            params["cursor"] = cursor
        page = expect(search(catalog, "blue widget", **params), 200).json
        paged += [item["sku"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    check(paged == hits, f"pages of 1 {paged} differ from one page {hits}")
    first = expect(search(catalog, "blue widget", limit="1"), 200).json
    wrong = expect(search(catalog, "red widget", cursor=first["next_cursor"]), 400, "invalid-parameter")
    check(wrong.json.get("field") == "cursor", f"{wrong}: a cursor of another q")
    # Case and white space fold; operator words are plain words.
    check([item["sku"] for item in expect(search(catalog, "  BLUE\tWIDGET "), 200).json["items"]] == hits, "case")
    expect(search(catalog, "AND"), 200)
    expect(search(catalog, "widget OR NOT NEAR"), 200)
    # Read your writes: a new entry is found once its position is passed.
    answer = sync(catalog.a, f"/v1/skus/{s['COLA']}/catalog", {"source": "shop", "name": "Zebra blue widget"}, 200)
    found = expect(search(catalog, "zebra", min_position=answer.json["position"]), 200).json["items"]
    check([item["sku"] for item in found] == [s["COLA"]], f"zebra: {found}")
    expect(search(catalog, "widget", below_reorder_point="true"), 400, "invalid-parameter")


def case_hostile_queries(catalog):
    hostile = ['blue"', "wid*", "NEAR(blue widget)", "name:blue", "^blue", "{name brand}: blue", "a + b",
               "blue\u0001", "   ", " ".join(["w"] * 17), "x" * 300]
    for query in hostile:
        answer = expect(search(catalog, query), 400, "invalid-parameter")
        check(answer.json.get("field") == "q", f"{answer}: field is not q for {query!r}")
    for raw in ("q=blue%00", "q=" + "a" * 10240, "q=%FF%FE", "q="):
        answer = catalog.a.get("/v1/skus?" + raw)
        check(answer.status == 400 and answer.header("Content-Type").startswith("application/problem+json"),
              f"{raw[:20]}...: {answer}")
    catalog.a.healthy()


def case_duplicates(catalog):
    s = catalog.skus
    deadline = time.monotonic() + VIEW_TIMEOUT_S
    while True:
        page = expect(catalog.a.get("/v1/catalog/duplicates?limit=100"), 200).json
        groups = {item["gtin"]: [(c["sku"], c["source"]) for c in item["claims"]] for item in page["items"]}
        if "0" + GTIN_EAN in groups:
            break
        check(time.monotonic() < deadline, f"no duplicate group within {VIEW_TIMEOUT_S} s: {page}")
        time.sleep(0.1)
    check(groups["0" + GTIN_EAN] == sorted([(s["BLUE"], "erp"), (s["DELUXE"], "erp")]), f"{groups}")
    check("00" + GTIN_UPC not in groups, f"CAN alone holds the UPC: {groups}")
    # The same product as EAN-13 on another SKU: one GTIN with the UPC-A.
    sync(catalog.a, f"/v1/skus/{s['SPANNER']}/catalog", {"source": "shop", "attributes": {"gtin": "0" + GTIN_UPC}}, 200)
    deadline = time.monotonic() + VIEW_TIMEOUT_S
    while True:
        page = expect(catalog.a.get("/v1/catalog/duplicates?limit=1"), 200).json
        cursor_pages = [page]
        while page["next_cursor"]:
            page = expect(catalog.a.get("/v1/catalog/duplicates?limit=1&cursor=" + page["next_cursor"]), 200).json
            cursor_pages.append(page)
        gtins = [item["gtin"] for p in cursor_pages for item in p["items"]]
        if "00" + GTIN_UPC in gtins:
            break
        check(time.monotonic() < deadline, f"UPC-A and EAN-13 not grouped within {VIEW_TIMEOUT_S} s: {gtins}")
        time.sleep(0.1)
    check(gtins == sorted(gtins) and len(gtins) == len(set(gtins)) == 2, f"pages of 1: {gtins}")
    expect(catalog.a.get("/v1/catalog/duplicates?cursor=nonsense"), 400, "invalid-parameter")


def case_rebuild_gives_the_same_catalog(catalog):
    """A rebuild by replay (a new database with its FTS5 index, swapped in) answers exactly as before."""
    s = catalog.skus
    before_search = expect(search(catalog, "blue widget"), 200).json["items"]
    before_entry = expect(catalog.a.get(f"/v1/skus/{s['BLUE']}/catalog"), 200).json
    before_duplicates = expect(catalog.a.get("/v1/catalog/duplicates"), 200).json
    completed = {v["name"]: v for v in expect(catalog.a.get("/v1/views"), 200).json["views"]}["catalog"]["rebuild"]
    expect(catalog.a.post("/v1/views/catalog/rebuild"), 202)
    deadline = time.monotonic() + VIEW_TIMEOUT_S
    while True:
        view = {v["name"]: v for v in expect(catalog.a.get("/v1/views"), 200).json["views"]}["catalog"]
        if view["rebuild"]["completed"] > completed["completed"] and view["state"] == "ready":
            break
        check(view["rebuild"]["failed"] == completed["failed"], f"rebuild failed: {view}")
        check(time.monotonic() < deadline, f"catalog rebuild not finished within {VIEW_TIMEOUT_S} s: {view}")
        time.sleep(0.2)
    check(expect(search(catalog, "blue widget"), 200).json["items"] == before_search, "search after the rebuild")
    check(expect(catalog.a.get(f"/v1/skus/{s['BLUE']}/catalog"), 200).json == before_entry, "entry after the rebuild")
    check(expect(catalog.a.get("/v1/catalog/duplicates"), 200).json == before_duplicates, "duplicates after")


def verify(catalog, precedence=PRECEDENCE):
    result = subprocess.run([catalog.stockctl, "verify", f"--kafka.bootstrap={catalog.run.bootstrap}",
                             f"--kafka.topic_prefix={catalog.run.prefix}", f"--kafka.partitions={test_http.PARTITIONS}",
                             f"--data_dir={catalog.a.data_dir}", f"--catalog.source_precedence={precedence}"],
                            capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S)
    say(f"    stockctl verify -> {result.returncode}\n    {result.stdout.strip()[-600:]}\n    {result.stderr.strip()[-600:]}")
    return result


def case_verify(catalog):
    """After the stop: verify folds CatalogUpdated itself (sources, merge) and agrees with the view; then a
    merged name changed behind the view's back is reported."""
    first = verify(catalog)
    check(first.returncode == 0, f"verify of an untouched run: exit {first.returncode}")
    unranked = verify(catalog, precedence="")  # verify told another precedence than stockd's sees the merge differ
    check(unranked.returncode == 1, f"verify without stockd's precedence: exit {unranked.returncode}")
    check(re.search(rf"view catalog: SKU {catalog.skus['PREC']}: merged entry differs from the fold: name",
                    unranked.stdout + unranked.stderr), "the PREC name merged by precedence is not reported")
    path = os.path.join(catalog.a.data_dir, "views", "catalog.db")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE catalog_skus SET name = 'tampered' WHERE sku = ?", (catalog.skus["DELUXE"],))
    second = verify(catalog)
    check(second.returncode == 1, f"verify of a tampered view: exit {second.returncode}")
    check(re.search(rf"view catalog: SKU {catalog.skus['DELUXE']}: merged entry differs from the fold: name",
                    second.stdout + second.stderr), "the tampered name is not reported")


def main():
    run = test_http.Run()
    test_http.ROUTES = test_http.RouteTable(run.routes_dump)
    cases = Cases()
    started = time.monotonic()
    say(f"test_catalog.py: prefix {run.prefix}, files in {run.root}, broker {run.bootstrap}")
    a = Stockd(run, "a", extra=[f"--catalog.source_precedence={PRECEDENCE}"])
    catalog = None
    try:
        a.start()
        if cases.run("start: instance a ready", a.wait_ready):
            catalog = Catalog(run, a)
            if cases.run("create the SKUs", case_create_skus, catalog):
                cases.run("import a CSV twice: cleaned, refused rows reported, second run sends nothing",
                          case_import_twice, catalog)
                cases.run("import JSON Lines: nested attributes, refusals by line, second run sends nothing",
                          case_import_json_lines, catalog)
                cases.run("a second source: most recent value wins field by field", case_second_source_merges_most_recent,
                          catalog)
                cases.run("catalog.source_precedence: a named source's fields stand, a later one fills the gaps",
                          case_precedence_ranks_the_named_source_first, catalog)
                cases.run("NFC: an NFD file imports composed, NFC and NFD again send nothing, HTTP composes too",
                          case_import_decomposed_text_as_composed, catalog)
                cases.run("search: ranking, cursors, min_position", case_search_ranking_and_cursors, catalog)
                cases.run("hostile queries: 400 problem+json, never 500", case_hostile_queries, catalog)
                cases.run("duplicates by GTIN, UPC-A = EAN-13, cursors", case_duplicates, catalog)
                cases.run("rebuild by replay: the same entries, hits and duplicates", case_rebuild_gives_the_same_catalog,
                          catalog)
    finally:
        code = a.stop()
        cases.run("stop: a exits 0 on SIGTERM", lambda: check(code == 0, f"exited {code}:\n{a.log_tail()}"))
    if catalog is not None:
        cases.run("stockctl verify: the catalog view equals verify's own fold; a tampered entry is found",
                  case_verify, catalog)
    cases.run("sanitizers: no ASan/UBSan report", lambda: check(
        not re.search(r"runtime error|AddressSanitizer|LeakSanitizer", a.log_text()), a.log_tail(60)))
    failed = [result for result in cases.results if not result[1]]
    say(f"\ntest_catalog.py: {len(cases.results) - len(failed)} of {len(cases.results)} cases passed in "
        f"{time.monotonic() - started:.1f} s")
    if failed or os.environ.get("STOCKD_KEEP") == "1":
        say(f"kept {run.root} (logs and data); topics {run.prefix}.*")
    else:
        shutil.rmtree(run.root, ignore_errors=True)
        if run.topics_delete:
            subprocess.run([run.topics_delete, run.bootstrap, run.prefix], capture_output=True, timeout=60)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
