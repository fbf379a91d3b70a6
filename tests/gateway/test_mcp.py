"""`warden mcp` driven by the official MCP Python SDK client (`mcp` on PyPI).

scripts/test-gateway.sh prepares a throwaway repository (a leaked key, a vulnerable
pin, a script that prints the key and fails) and a database holding the bundled OSV
fixtures, then runs this file. The client starts `warden mcp` over stdio in that
repository, as Claude Code or Codex CLI would from their MCP configuration.
"""

import asyncio
import json
import os
import shutil
import subprocess
import unittest

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

WARDEN = os.environ["WARDEN_BIN"]
DB = os.environ["WARDEN_TEST_DB"]
REPO = os.environ["WARDEN_TEST_MCP_REPO"]
SECRET = os.environ["WARDEN_TEST_MCP_SECRET"]


def docker_ok():
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True).returncode == 0


# The server asks the loopback metadata API (and nothing else: WARDEN_METADATA_URL).
SERVER_ENV = dict(os.environ, WARDEN_OFFLINE="0", WARDEN_METADATA_URL=os.environ["WARDEN_TEST_METADATA_URL"])


async def with_session(work):
    params = StdioServerParameters(command=WARDEN, args=["--db", DB, "mcp"], cwd=REPO, env=SERVER_ENV)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


def call(name, args):
    async def work(s):
        r = await s.call_tool(name, args)
        text = "".join(c.text for c in r.content if getattr(c, "type", "") == "text")
        return bool(r.is_error), text
    return asyncio.run(with_session(work))


class Mcp(unittest.TestCase):
    def test_lists_the_tools(self):
        async def work(s):
            return sorted(t.name for t in (await s.list_tools()).tools)
        self.assertEqual(asyncio.run(with_session(work)),
                         ["check_packages", "findings", "recent_traces", "run_script", "scan"])

    def test_scan_finds_the_key_without_telling_it(self):
        err, text = call("scan", {"paths": ["app.py"]})
        self.assertFalse(err, text)
        found = json.loads(text)
        rules = {f["rule"] for f in found["findings"]}
        self.assertIn("aws-access-key-id", rules, text)
        self.assertTrue(all(f["path"] == "app.py" and f["line"] >= 1 for f in found["findings"]))
        self.assertNotIn(SECRET, text)

    def test_scan_refuses_paths_outside_the_workspace(self):
        err, text = call("scan", {"paths": ["../../../etc/passwd"]})
        self.assertTrue(err)
        self.assertIn("outside the workspace", text)

    def test_check_packages_by_manifest_and_by_name(self):
        err, text = call("check_packages", {"manifest": "requirements.txt"})
        self.assertFalse(err, text)
        found = json.loads(text)["manifest"]["findings"]
        by_rule = {f["rule"]: f for f in found}
        self.assertIn("PYSEC-2023-74", by_rule, text)
        # The misspelt name, asked of the registry within the call: it has no such package.
        self.assertEqual(by_rule["package-unknown"]["line"], 2, text)
        self.assertEqual(by_rule["package-unknown"]["severity"], "error")
        self.assertIn("reqeusts-toolbelt", by_rule["package-unknown"]["message"])
        err, text = call("check_packages", {"packages": [
            {"ecosystem": "PyPI", "name": "requests", "version": "2.30.0"},
            {"ecosystem": "PyPI", "name": "requests", "version": "2.32.3"},
            {"ecosystem": "PyPI", "name": "reqeusts-toolbelt"},
            {"ecosystem": "npm", "name": "request", "version": "2.88.2"},
        ]})
        self.assertFalse(err, text)
        old, new, made_up, deprecated = json.loads(text)["packages"]
        self.assertIn("PYSEC-2023-74", old["advisories"])
        self.assertEqual(old["verdict"], "vulnerable")
        self.assertEqual(new["verdict"], "ok", new)
        self.assertTrue(new["registryAnswered"])
        self.assertEqual(new["registry"], [])
        self.assertEqual(made_up["verdict"], "unknown", made_up)
        self.assertEqual([r["rule"] for r in made_up["registry"]], ["package-unknown"])
        self.assertEqual(deprecated["verdict"], "deprecated", deprecated)
        self.assertIn("request has been deprecated", deprecated["registry"][0]["message"])

    @unittest.skipUnless(docker_ok(), "no Docker engine")
    def test_run_script_redacts_output_and_blames_the_line(self):
        err, text = call("run_script", {"path": "scripts/leak.py"})
        self.assertFalse(err, text)
        run = json.loads(text)
        self.assertEqual(run["status"], "failed", text)
        self.assertEqual(run["exitCode"], 1)
        self.assertNotIn(SECRET, text)
        self.assertIn("__WARDEN_SECRET_1__", run["stdout"])
        self.assertEqual(run["failingLines"][0]["line"], 3, run["failingLines"])

    def test_zz_every_tool_call_is_a_span(self):
        err, text = call("recent_traces", {"kind": "command", "limit": 100})
        self.assertFalse(err, text)
        names = {s["name"] for s in json.loads(text)["spans"]}
        self.assertTrue({"mcp.scan", "mcp.check_packages"} <= names, names)
        err, text = call("findings", {})
        self.assertFalse(err, text)
        self.assertIn("findings", json.loads(text))


if __name__ == "__main__":
    unittest.main(verbosity=2)
