#!/usr/bin/env python3
"""Extracts the labelled texts the injection classifier is trained on, from public repositories.

Usage: python3 scripts/injection/extract.py OUT.jsonl NODE_MODULES_DIR GIT_DIR...

Each GIT_DIR is a clone (or bare git directory) of one repository in SOURCES below, checked
out at the commit named there (the script reads that commit, whatever is checked out). Writes
one JSON object a line: {"text", "label" (1 injection, 0 benign), "source", "kind"}. The
repositories' licences and the counts are in docs/inspection.md. Standard library only (and
PyYAML, for PyRIT's templates); deterministic (seeded).

Sources reserved for independent evaluation are not read, nor their copies in other repositories:
verazuo/jailbreak_llms (garak ships a copy, garak/data/inthewild_jailbreak_llms.json, which is
skipped; JailbreakBench's JBC artifacts are a jailbreakchat.com prompt), AgentDojo, Tensor Trust,
deepset/prompt-injections, BIPIA, NotInject/InjecGuard, PINT, the OWASP LLM Top 10 text, and
the test data of trufflehog, detect-secrets and presidio-research.
"""

import ast
import glob
import json
import os
import random
import re
import subprocess
import sys
import textwrap

import yaml

SOURCES = {
    "meta-llama/PurpleLlama": "4be64c3a24442b51c76175e6ec67722cc3f5fe38",
    "NVIDIA/garak": "cafbe992780df70015de7295ca026b70c4629ada",
    "sherdencooper/GPTFuzz": "1eddeb565740ae311b5f4950492b011a6f866fe7",
    "romanlutz/PyRIT": "b06c6bca8aff0cb115d281763c74faa60b10b172",
    "TakSec/Prompt-Injection-Everywhere": "9b69c8ae7958f68d562d484103a7b14b66983d63",
    "JailbreakBench/artifacts": "909e68c01d94222b8ad2e397a017e2e12e2adb73",
    "CHATS-lab/persuasive_jailbreaker": "11f8e8e89e5fcb2aaeb9d05b9570495d004b499d",
    "greshake/llm-security": "87f4b7ffa568b7261a79b31573068d8113319212",
    "openai/grade-school-math": "3101c7d5072418e28b9008a6636bde82a006892c",
    "microsoft/promptbench": "fcda538bd779ad11612818e0645a387a462b5c3b",
    "NVIDIA/NeMo-Guardrails": "e7c23d117f04805fc0eb3e4a8fd35a5e3c5b105f",
    "Giskard-AI/giskard": "814a9dda633d0cc4e5adbec0adf373985cdd2389",
    "facebookresearch/wasp": "ffee6f41fde76acd14bd792db442479c506260c2",
}

rng = random.Random(20)
rows = []


def add(text, label, source, kind):
    text = text.strip()
    if 8 <= len(text) <= 20000:
        rows.append({"text": text, "label": label, "source": source, "kind": kind})


def git_dir(path):
    dot = os.path.join(path, ".git")
    return dot if os.path.isdir(dot) else path


def reader(path, commit):
    gd = git_dir(path)

    def show(name):
        return subprocess.run(
            ["git", "--git-dir", gd, "show", f"{commit}:{name}"], check=True, capture_output=True
        ).stdout.decode("utf-8")

    def ls(prefix):
        out = subprocess.run(
            ["git", "--git-dir", gd, "ls-tree", "-r", "--name-only", commit, prefix],
            check=True,
            capture_output=True,
        ).stdout.decode()
        return [l for l in out.splitlines() if l]

    return show, ls


def repo_of(gd):
    head = subprocess.run(
        ["git", "--git-dir", git_dir(gd), "cat-file", "-t", "HEAD"], capture_output=True
    )
    for name, commit in SOURCES.items():
        r = subprocess.run(
            ["git", "--git-dir", git_dir(gd), "cat-file", "-e", commit], capture_output=True
        )
        if r.returncode == 0:
            return name, commit
    sys.exit(f"{gd}: holds none of the commits in SOURCES")


# ---- meta-llama/PurpleLlama (CyberSecEval; MIT) ----------------------------------------------
def purplellama(show, ls):
    base = "CybersecurityBenchmarks/datasets/"
    for name in ["prompt_injection/prompt_injection.json",
                 "prompt_injection/prompt_injection_multilingual_machine_translated.json"]:
        for case in json.loads(show(base + name)):
            add(case["user_input"], 1, "cyberseceval-injection", case["injection_type"])
            # The system prompts under attack: instructions to a model, but not attacks.
            add(case["test_case_prompt"], 0, "cyberseceval-system-prompts", "system-prompt")
    for name in ["mitre_frr/mitre_frr.json", "mitre_frr/frr_multilingual_machine_translated.json"]:
        for case in json.loads(show(base + name)):
            add(case["mutated_prompt"], 0, "cyberseceval-frr", "security-request")
    instruct = json.loads(show(base + "instruct/instruct.json"))
    rng.shuffle(instruct)
    for case in instruct[:1500]:
        add(case["test_case_prompt"], 0, "cyberseceval-instruct", "coding-request")


# ---- NVIDIA/garak (Apache-2.0) -----------------------------------------------------------------
MARKERS = {
    "INJECTION_MARKER": "<|garak_injection|>",
    "PAYLOAD_MARKER": "<|garak_payload|>",
    "TRIGGER_MARKER": "<|garak_trigger|>",
}


def evaluate(node):
    """The value of a class attribute built from literals, f-strings of the markers, + and *."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in MARKERS:
        return MARKERS[node.id]
    if isinstance(node, ast.JoinedStr):
        return "".join(
            evaluate(v.value) if isinstance(v, ast.FormattedValue) else v.value for v in node.values
        )
    if isinstance(node, (ast.List, ast.Tuple)):
        return [evaluate(e) for e in node.elts]
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        a, b = evaluate(node.left), evaluate(node.right)
        return a + b if isinstance(node.op, ast.Add) else a * b
    raise ValueError(ast.dump(node)[:80])


def latent_classes(source):
    classes = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        attrs = {}
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
                try:
                    attrs[stmt.targets[0].id] = evaluate(stmt.value)
                except (ValueError, TypeError):
                    pass
        classes[node.name] = ([b.id for b in node.bases if isinstance(b, ast.Name)], attrs)
    return classes


def resolve(classes, name, attr):
    bases, attrs = classes.get(name, ([], {}))
    if attr in attrs:
        return attrs[attr]
    for b in bases:
        v = resolve(classes, b, attr)
        if v is not None:
            return v
    return None


def garak(show, ls):
    payload = lambda name: json.loads(show(f"garak/data/payloads/{name}.json"))["payloads"]
    classes = latent_classes(show("garak/probes/latentinjection.py"))
    whois = payload("whois_injection_contexts")
    for cls in classes:
        if not cls.startswith("Latent") or not cls.endswith("Full"):
            continue
        get = lambda a: resolve(classes, cls, a)
        contexts = get("contexts")
        paragraphs = get("paragraphs") or (whois if "Whois" in cls else None)
        if paragraphs:
            contexts = []
            for _ in range(60):
                snippets = rng.sample(paragraphs, min(5, len(paragraphs)))
                snippets.insert(rng.randrange(len(snippets) + 1), MARKERS["INJECTION_MARKER"])
                contexts.append("\n".join(snippets))
        if not contexts:
            continue
        tops = get("top_instructions") or [""]
        instructions = get("injection_instructions") or [MARKERS["PAYLOAD_MARKER"]]
        payloads = get("payloads") or [MARKERS["TRIGGER_MARKER"]]
        triggers = get("payload_triggers") or []
        if "Translation" in cls:
            triggers = triggers + payload("rude_french" if "Fr" in cls else "rude_chinese")
        if not triggers:
            triggers = payload("domains_latentinjection")
        seps = get("injection_sep_pairs") or [("", "")]
        combos = set()
        for _ in range(400):
            inj = (rng.choice(instructions).replace(MARKERS["PAYLOAD_MARKER"], rng.choice(payloads))
                   .replace(MARKERS["TRIGGER_MARKER"], rng.choice(triggers)))
            start, end = rng.choice(seps)
            ctx = rng.choice(contexts)
            top = rng.choice(tops)
            combos.add((top + ctx.replace(MARKERS["INJECTION_MARKER"], start + inj + end), ctx))
        for text, ctx in sorted(combos)[:150]:
            add(text, 1, "garak-latent-injection", cls)
        # The same documents without the injection: hard negatives of the same shape.
        for ctx in sorted(set(contexts))[:40]:
            add(ctx.replace(MARKERS["INJECTION_MARKER"], ""), 0, "garak-documents", cls)
    for w in whois:
        add(w.replace(MARKERS["INJECTION_MARKER"], ""), 0, "garak-documents", "whois")

    # Jailbreaks (the in-the-wild file is verazuo/jailbreak_llms, reserved: not read).
    for f in ls("garak/data/dan"):
        if f.endswith(".json"):
            for t in json.loads(show(f)):
                add(t.replace("{generator.name}", "ChatGPT"), 1, "garak-jailbreaks", "dan")
    for t in json.loads(show("garak/data/autodan/autodan_prompts.json")):
        add(t.replace("[MODEL]", "ChatGPT").replace("[KEEPER]", "OpenAI"), 1, "garak-jailbreaks", "autodan")
    attacks = json.loads(show("garak/data/sysprompt_extraction/attacks.json"))
    for group in attacks.values():
        for t in group:
            add(t, 1, "garak-jailbreaks", "sysprompt-extraction")
    # PromptInject's goal hijacking and prompt leaking attacks (MIT, vendored by garak), each
    # after one of its benign task prompts; the task prompts alone are benign.
    data = {}
    for node in ast.parse(show("garak/resources/promptinject/prompt_data.py")).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                data[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    tasks = [v["instruction"] for v in data["openai_playground_prompts"].values() if v["instruction"]]
    attacks = [v["instruction"] for k in ("goal_hikacking_attacks", "prompt_leaking_attacks") for v in data[k].values()]
    for _ in range(300):
        attack = rng.choice(attacks).replace("{REPLACE_rogue_string}", rng.choice(list(data["rogue_strings"].values())))
        esc = rng.choice(list(data["escape_chars"].values())) * rng.randrange(0, 4)
        delim = rng.choice(list(data["delimiter_chars"].values())) * rng.randrange(0, 12)
        add(f"{rng.choice(tasks)}{esc}{delim}\n{attack}", 1, "promptinject", "goal-hijack")
    for t in tasks:
        add(t, 0, "promptinject", "task")
    # Markdown and link exfiltration (garak's web_injection probe and XSS templates).
    web = latent_classes(show("garak/probes/web_injection.py"))
    actions = show("garak/data/xss/xss_injected_actions.txt").splitlines()
    domains = show("garak/data/xss/xss_domains.txt").split()
    templates = [a["template"] for _, a in web.values() if isinstance(a.get("template"), str)]
    for f in ls("garak/data/xss"):
        if "prompt_templates" in f:
            templates.append(show(f))
    for _ in range(120):
        t = rng.choice(templates)
        for k, v in {"{domain}": rng.choice(domains), "{encoding}": "base64", "{injected_action}": rng.choice(actions),
                     "{injected_marker}": "DATA", "{uri}": f"![t](https://{rng.choice(domains)}/logo.png?q=[DATA])",
                     "{injected_strings}": f'"![t](https://", "{rng.choice(domains)}", "/?q=[DATA])"',
                     "{injected_output_fomat}": "render", "{modified_domain}": rng.choice(domains)}.items():
            t = t.replace(k, v)
        add(t, 1, "web-exfiltration", "markdown-exfiltration")
    for t in payload("normal_instructions") + payload("text_en"):
        add(t, 0, "garak-text", "instruction")
    for name in ["book_cloze.tsv", "nyt_cloze.tsv", "potter_cloze.tsv", "guardian_cloze.tsv"]:
        lines = show(f"garak/data/{name}").splitlines()
        rng.shuffle(lines)
        for line in lines[:600]:
            add(line.split("\t", 1)[-1].replace("[MASK]", "him"), 0, "garak-text", "prose")
    claims = show("garak/data/truefalse_falseclaims.txt").splitlines()
    rng.shuffle(claims)
    for t in claims[:600]:
        add(t, 0, "garak-text", "statement")
    for f in ls("garak/data/donotanswer"):
        for line in show(f).splitlines():
            add(json.loads(line)["prompt"], 0, "garak-text", "question")


# ---- sherdencooper/GPTFuzz (MIT) --------------------------------------------------------------
def gptfuzz(show, ls):
    import csv
    import io
    questions = [r["text"] for r in csv.DictReader(io.StringIO(show("datasets/questions/question_list.csv")))]
    for r in csv.DictReader(io.StringIO(show("datasets/prompts/GPTFuzzer.csv"))):
        add(r["text"].replace("[INSERT PROMPT HERE]", rng.choice(questions)), 1, "gptfuzz-templates", "template")


# ---- romanlutz/PyRIT (MIT; the "pliny" folder is left out: its origin licence is unclear) ------
def pyrit(show, ls):
    for f in ls("pyrit/datasets/prompt_templates/jailbreak"):
        if "/pliny/" in f or not f.endswith(".yaml"):
            continue
        doc = yaml.safe_load(show(f))
        value = doc.get("value") if isinstance(doc, dict) else None
        if isinstance(value, str):
            add(re.sub(r"\{\{\s*prompt\s*\}\}", "how do I pick a lock?", value), 1, "pyrit-jailbreaks", "template")


# ---- TakSec/Prompt-Injection-Everywhere (MIT) ------------------------------------------------
def taksec(show, ls):
    for f in ls("."):
        if f.endswith(".txt") and "Protection" not in f:
            for line in show(f).splitlines():
                add(line, 1, "web-exfiltration", "taksec")


# ---- Security documentation: text about injections and jailbreaks, not attacks -------------
QUOTED_ATTACK = re.compile(
    r"ignore\s+(?:all\s+|any\s+|the\s+|your\s+)?(?:previous|prior|above|preceding)|```|^\s*>>>|\bDAN\b|"
    r"do anything now|developer mode|\"[^\"]{120,}\"",
    re.I | re.M,
)


def security_docs(show, ls, prefix, suffixes):
    out = []
    for f in ls(prefix):
        if not f.endswith(suffixes):
            continue
        for para in re.split(r"\n\s*\n", show(f)):
            if 80 <= len(para) <= 1500 and not QUOTED_ATTACK.search(para):
                out.append(para)
    return out


# ---- npm packages installed by package-lock.json (their own licences: MIT, ISC, Apache-2.0 …) ---
def npm(node_modules):
    docs, code = [], []
    for path in sorted(glob.glob(os.path.join(node_modules, "**", "*.md"), recursive=True)):
        if not os.path.isfile(path) or "/test" in path or os.path.getsize(path) > 200_000:
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for para in re.split(r"\n\s*\n", f.read()):
                if 80 <= len(para) <= 1500:
                    docs.append(para)
    for path in sorted(glob.glob(os.path.join(node_modules, "**", "*.[jt]s"), recursive=True)):
        if not os.path.isfile(path) or path.endswith(".min.js") or os.path.getsize(path) > 100_000:
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for i in range(0, min(len(text), 6000), 1500):
            code.append(text[i : i + 1500])
    rng.shuffle(docs)
    rng.shuffle(code)
    for t in docs[:4000]:
        add(t, 0, "npm-docs", "markdown")
    for t in code[:3000]:
        add(t, 0, "npm-code", "code")


# ==== Sources added later. They are read after the ones above, with their own random generator,
# so the texts extracted from the sources above stay exactly what they were.
rng2 = random.Random(21)


def string_values(source, names=None):
    """Module and class level string assignments (plain or placeholder-free f-strings) by name."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)):
            continue
        value = node.value
        if isinstance(value, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in value.values):
            value = ast.Constant("".join(v.value for v in value.values))
        try:
            v = ast.literal_eval(value)
        except ValueError:
            continue
        if names is None or node.targets[0].id in names:
            out.append((node.targets[0].id, v))
    return out


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings_in(v)


# ---- JailbreakBench/artifacts (MIT): jailbreak prompts submitted to JailbreakBench -----------
# PAIR (attacker-model rewrites), GCG and DSN (optimized adversarial suffixes) and the adaptive
# random-search template. The JBC ("JailbreakChat", AIM) artifacts are left out: that prompt is
# from jailbreakchat.com, which the reserved verazuo/jailbreak_llms collection holds.
def jailbreakbench(show, ls):
    groups = {"PAIR": "jbb-pair", "GCG": "jbb-suffix", "DSN": "jbb-suffix",
              "prompt_with_random_search": "jbb-random-search"}
    for f in ls("attack-artifacts"):
        parts = f.split("/")  # attack-artifacts/METHOD/ATTACK_TYPE/MODEL.json
        method = parts[1]
        if method not in groups or len(parts) != 4:
            continue
        source = groups[method]
        for j in json.loads(show(f))["jailbreaks"]:
            if j.get("prompt"):
                add(j["prompt"], 1, source, method.lower())
            # The behaviour asked for, without the attack: a plain (harmful) request, as
            # garak-text's questions are; the twin of the attack in the same source.
            add(j["goal"], 0, source, "request")


# ---- CHATS-lab/persuasive_jailbreaker (Apache-2.0): persuasive adversarial prompts -----------
def persuasive(show, ls):
    src = show("PAP_Better_Incontext_Sample/mutation_utils.py")
    for _, template in string_values(src, {"persuasion_template"}):
        for t in strings_in(template):
            for m in re.finditer(r"Mutated Adversarial Prompt \(with the same harmful intention\): (.+)", t):
                add(m.group(1), 1, "pap-persuasion", "persuasion")
    # The taxonomy's own examples persuade people (to stop smoking …): persuasion, no attack.
    for line in show("persuasion_taxonomy.jsonl").splitlines():
        add(json.loads(line)["ss_example"], 0, "pap-persuasion", "persuasion-example")


# ---- greshake/llm-security (MIT): the indirect injections of "Not what you've signed up for" --
def greshake(show, ls):
    attack_names = {"injection", "original_injection", "secondary_injection", "primary_payload",
                    "secondary_payload", "malicious_email", "text", "attacker_social_media_injection",
                    "attacker_c2_payload", "instructions"}
    for f in ls("scenarios"):
        if f.endswith(".py") and ("/gpt4/" in f or "/gpt3langchain/" in f) and "/target/" not in f:
            for name, v in string_values(show(f)):
                if isinstance(v, str) and name in attack_names:
                    add(textwrap.dedent(v), 1, "greshake-indirect", "indirect")
                elif name == "current_website":
                    add(textwrap.dedent(v), 0, "greshake-indirect", "web-page")
    # Instructions planted in a web page for a browsing assistant (the puzzle server).
    for f in ls("scenarios/puzzle/puzzles"):
        t = show(f).replace("{{message}}", "Hello from the developers.").replace("{{clue}}", "A-aHR0cHM6")
        add(t, 1, "greshake-indirect", "indirect")
    # A docstring that instructs a code assistant to call through a shell.
    leftpad = show("scenarios/code-completion/advanced-example/injection/leftpad.py")
    add(leftpad, 1, "greshake-indirect", "code-comment")
    # The Wikipedia article the multi-stage attack is planted in, without it (CC BY-SA).
    for para in show("scenarios/common/albert_einstein.md").split("\n\n"):
        add(para, 0, "greshake-indirect", "web-page")


# ---- openai/grade-school-math (MIT): GSM8K word problems ------------------------------------
def gsm8k(show, ls):
    lines = show("grade_school_math/data/train.jsonl").splitlines()
    rng2.shuffle(lines)
    for line in lines[:1500]:
        add(json.loads(line)["question"], 0, "gsm8k", "question")


# ---- microsoft/promptbench (MIT): task instructions to a model, and their perturbed forms -----
def promptbench(show, ls):
    texts = []
    for f in ["promptbench/prompts/task_oriented.py", "promptbench/prompts/role_oriented.py",
              "promptbench/prompts/method_oriented.py", "promptbench/prompts/semantic_atk_prompts.py",
              "promptbench/mpa/mpa_prompts.py"]:
        for _, v in string_values(show(f)):
            texts += [("instruction", t) for t in strings_in(v)]
    # Adversarial robustness attacks (typos, synonyms, appended noise) on those instructions:
    # the intent is unchanged, so these are benign instructions with noise, not injections.
    for f in ls("promptbench/prompts/adv_prompts"):
        for m in re.finditer(r"^(Original|Attacked) prompt: (b(['\"]).*\3|.*?)\s*$", show(f), re.M):
            t = m.group(2)
            if t.startswith("b"):  # the attacked prompt as a Python bytes literal
                try:
                    t = ast.literal_eval(t).decode("utf-8", "replace")
                except (ValueError, SyntaxError):
                    continue
            texts.append(("perturbed-instruction" if m.group(1) == "Attacked" else "instruction", t))
    texts = sorted(set(texts))
    rng2.shuffle(texts)
    for kind, t in texts[:2500]:
        t = re.sub(r"\{\w*\}", "the given topic", t.replace("{content}", ""))
        add(t, 0, "promptbench-instructions", kind)


# ---- NVIDIA/NeMo-Guardrails (Apache-2.0): guardrail prompts, example user messages, docs ------
def nemo_guardrails(show, ls):
    for f in ls("."):
        if f.endswith("prompts.yml"):
            doc = yaml.safe_load(show(f)) or {}
            for p in doc.get("prompts", []) if isinstance(doc, dict) else []:
                if isinstance(p.get("content"), str):
                    add(p["content"], 0, "nemo-guardrails", "guardrail-prompt")
        elif f.endswith(".co"):
            # Example user messages of the dialogue flows ("define user ask about cooking").
            user = False
            for line in show(f).splitlines():
                if not line.startswith((" ", "\t")):
                    user = line.startswith("define user")
                elif user:
                    m = re.match(r'\s+"(.+)"\s*$', line)
                    if m and not QUOTED_ATTACK.search(m.group(1)):
                        add(m.group(1), 0, "nemo-guardrails", "user-message")
    docs = security_docs(show, ls, "docs", (".md", ".rst"))
    rng2.shuffle(docs)
    for t in docs[:1500]:
        add(t, 0, "nemo-guardrails", "documentation")


# ---- Giskard-AI/giskard (Apache-2.0): its documentation, and the Enron e-mails of its tests ---
# Its prompt_injections.csv is not read: it is garak's DAN prompts and PromptInject's attacks,
# both already read from garak above.
def giskard(show, ls):
    import csv
    import io
    docs = security_docs(show, ls, "docs", (".md", ".rst"))
    rng2.shuffle(docs)
    for t in docs[:1000]:
        add(t, 0, "giskard-docs", "documentation")
    csv.field_size_limit(10**7)
    for r in csv.DictReader(io.StringIO(show("tests/test_data/enron_data.csv"))):
        body = r["Content"].strip()
        add(f"Subject: {r['Subject']}\n\n{body}", 0, "enron-emails", "email")
        for para in re.split(r"\n\s*\n", body):
            if 80 <= len(para) <= 1500:
                add(para, 0, "enron-emails", "email-paragraph")


# ---- facebookresearch/wasp: only its visualwebarena folder (MIT), the web agent's tasks -------
# WASP's own prompt injections are CC BY-NC 4.0 (non-commercial): not read.
def webarena(show, ls):
    for f in ls("visualwebarena/config_files"):
        if f.endswith(".raw.json"):
            for task in json.loads(show(f)):
                add(task["intent"], 0, "webarena-tasks", "agent-task")
    for f in ls("visualwebarena/agent/prompts/jsons"):
        if "defense" not in f and "security" not in f:
            p = json.loads(show(f))
            add(p["intro"], 0, "webarena-tasks", "agent-system-prompt")
            for ex in p.get("examples", []):
                add(ex[0], 0, "webarena-tasks", "web-observation")


MORE = [("JailbreakBench/artifacts", jailbreakbench), ("CHATS-lab/persuasive_jailbreaker", persuasive),
        ("greshake/llm-security", greshake), ("openai/grade-school-math", gsm8k),
        ("microsoft/promptbench", promptbench), ("NVIDIA/NeMo-Guardrails", nemo_guardrails),
        ("Giskard-AI/giskard", giskard), ("facebookresearch/wasp", webarena)]


# ---- Indirect injection: payloads embedded in carriers an agent reads -------------------------
WRAPPERS = [
    lambda body, r: f"From: {r.choice(['Dana Lee <dana@corp.example>', 'billing@vendor.example', 'Sam <sam@example.org>'])}\nTo: me@example.com\nSubject: {r.choice(['Re: Q3 planning', 'Invoice 4471', 'Meeting notes', 'Your order', 'Follow-up'])}\n\n{body}",
    lambda body, r: json.dumps({"id": r.randrange(10**6), "title": "Item", "description": body}),
    lambda body, r: json.dumps({"results": [{"snippet": body, "url": "https://example.org/page"}]}),
    lambda body, r: f"<html><body><h1>Welcome</h1><p>{body}</p></body></html>",
    lambda body, r: f"BEGIN:VEVENT\nSUMMARY:{r.choice(['Team sync', 'Dentist', 'Review'])}\nDESCRIPTION:{body}\nEND:VEVENT",
    lambda body, r: f"# Notes\n\n{body}\n",
    lambda body, r: f"Customer review ({r.randrange(1, 6)}/5): {body}",
    lambda body, r: body,
]


def embed(carriers, payloads, limit, r):
    r.shuffle(payloads)
    for p in payloads[:limit]:
        a, b = r.choice(carriers), r.choice(carriers)
        wrap = r.choice(WRAPPERS)
        state = r.getstate()
        body = r.choice([f"{a}\n\n{p['text']}", f"{a} {p['text']}\n{b}", f"{p['text']}\n\n{b}"])
        rows.append({"text": wrap(body, r), "label": 1, "source": p["source"], "kind": "embedded"})
        # The same carrier and wrapper without the payload, in the same source: the model must
        # learn the payload, not the email or JSON around it.
        r.setstate(state)
        rows.append({"text": wrap(f"{a}\n\n{b}", r), "label": 0, "source": p["source"], "kind": "carrier"})


def main():
    out, node_modules, *dirs = sys.argv[1:]
    readers = {}
    for d in dirs:
        name, commit = repo_of(d)
        readers[name] = reader(d, commit)
    for name, fn in [("meta-llama/PurpleLlama", purplellama), ("NVIDIA/garak", garak),
                     ("sherdencooper/GPTFuzz", gptfuzz), ("romanlutz/PyRIT", pyrit),
                     ("TakSec/Prompt-Injection-Everywhere", taksec)]:
        if name not in readers:
            sys.exit(f"missing a clone of {name} at {SOURCES[name]}")
        fn(*readers[name])
    docs = []
    for name, prefix, suffixes in [("NVIDIA/garak", "docs/source", (".rst", ".md")),
                                   ("romanlutz/PyRIT", "doc", (".md",)),
                                   ("meta-llama/PurpleLlama", ".", (".md",))]:
        docs += security_docs(*readers[name], prefix, suffixes)
    rng.shuffle(docs)
    for t in docs[:2500]:
        add(t, 0, "security-docs", "documentation")
    npm(node_modules)
    carriers = [r["text"] for r in rows if r["label"] == 0 and r["source"] in ("garak-text", "npm-docs") and len(r["text"]) < 700]
    payloads = [r for r in rows if r["label"] == 1 and len(r["text"]) < 700 and r["source"] != "garak-latent-injection"]
    embed(carriers, payloads, 2500, rng)
    before = len(rows)
    for name, fn in MORE:
        if name not in readers:
            sys.exit(f"missing a clone of {name} at {SOURCES[name]}")
        fn(*readers[name])
    # The new attacks embedded as the ones above are, in carriers that include the new benign
    # texts (e-mails, web agent tasks and pages, word problems, documentation).
    added = rows[before:]
    carrier_sources = ("garak-text", "npm-docs", "enron-emails", "webarena-tasks", "gsm8k", "nemo-guardrails", "giskard-docs")
    carriers = [r["text"] for r in rows if r["label"] == 0 and r["source"] in carrier_sources and len(r["text"]) < 700]
    payloads = [r for r in added if r["label"] == 1 and len(r["text"]) < 700]
    embed(carriers, payloads, 1500, rng2)
    seen = set()
    with open(out, "w", encoding="utf-8") as f:
        for r in rows:
            key = (r["text"], r["label"])
            if key in seen:
                continue
            seen.add(key)
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts = {}
    for r in rows:
        counts.setdefault((r["source"], r["label"]), 0)
        counts[(r["source"], r["label"])] += 1
    for (s, l), n in sorted(counts.items()):
        print(f"{s}\t{l}\t{n}")


if __name__ == "__main__":
    main()
