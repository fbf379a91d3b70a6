"""The LLM gateway driven by the official OpenAI and Anthropic Python SDKs.

scripts/test-gateway.sh starts the scripted loopback provider (warden-mock-llm) and
`warden gateway` for a throwaway repository, then runs this file with the venv's
interpreter. Each test queues the provider's reply (raw bytes in the provider's wire
format, holding the placeholder the gateway issued for the planted secret, split
across stream events and inside tool-call argument JSON), calls the gateway through
an SDK exactly as a tool in a terminal would (base URL and token from the environment
the gateway printed), and checks both ends: what reached the provider (never the
secret; the user's real key, not the gateway's token) and what the client got back
(the secret, restored, with tool-call arguments that still parse).
"""

import json
import os
import random
import sqlite3
import string
import subprocess
import time
import unittest
import urllib.request

import anthropic
import openai

MOCK = os.environ["WARDEN_TEST_MOCK_URL"]  # http://127.0.0.1:PORT/v1
GATEWAY = json.loads(os.environ["WARDEN_TEST_GATEWAY"])  # `warden gateway --json`
DB = os.environ["WARDEN_TEST_DB"]
WARDEN = os.environ["WARDEN_BIN"]
UPSTREAM_KEY = os.environ["WARDEN_TEST_UPSTREAM_KEY"]
TIGHT = os.environ["WARDEN_TEST_TIGHT_WORKSPACE"]  # a workspace with a small budget
DAILY = os.environ["WARDEN_TEST_DAILY_WORKSPACE"]  # a workspace whose daily budget one call spends
PLACEHOLDER = "__WARDEN_SECRET_1__"


def new_secret():
    """An AWS access key id nobody has seen: the gateway must find it, not know it."""
    return "AKIA" + "".join(random.choice(string.ascii_uppercase + "234567") for _ in range(16))


def mock(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(MOCK.rsplit("/v1", 1)[0] + path, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def script(pieces, content_type=None):
    """Queues the provider's next reply: raw pieces, 5 ms apart."""
    mock("/_script", {"raw": [[p, 5] for p in pieces], "contentType": content_type})


def requests():
    return mock("/_requests")


def llm_spans(limit):
    """The newest `limit` llm spans, once every one of them has finished.

    The gateway records a call after the last byte of its reply is sent, so a client
    can be done a moment before its span is: wait for the state, not for a time.
    """
    deadline = time.monotonic() + 15
    while True:
        out = subprocess.run([WARDEN, "--db", DB, "traces", "--kind", "llm", "--limit", str(limit), "--json"],
                             capture_output=True, text=True, check=True).stdout
        spans = [json.loads(line) for line in out.splitlines() if line.strip()]
        if all(s.get("finishedAt") for s in spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.05)


def sse(data, event=None):
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data) if not isinstance(data, str) else data}\n\n"


def openai_client(key=None, base=None):
    return openai.OpenAI(base_url=base or GATEWAY["env"]["OPENAI_BASE_URL"], api_key=key or GATEWAY["env"]["OPENAI_API_KEY"], max_retries=0)


def anthropic_client(key=None):
    return anthropic.Anthropic(base_url=GATEWAY["env"]["ANTHROPIC_BASE_URL"], api_key=key or GATEWAY["env"]["ANTHROPIC_API_KEY"], max_retries=0)


class Gateway(unittest.TestCase):
    def setUp(self):
        self.before = len(requests())

    def sent(self, secret):
        """The one request that reached the provider in this test: no secret, the real key."""
        log = requests()[self.before:]
        self.assertEqual(len(log), 1, [r["path"] for r in log])
        r = log[0]
        self.assertNotIn(secret, r["body"])
        self.assertIn(PLACEHOLDER, r["body"])
        headers = dict(r["headers"])
        token = GATEWAY["token"]
        self.assertNotIn(token, json.dumps(r["headers"]), "the gateway token never goes upstream")
        self.assertIn(UPSTREAM_KEY, headers.get("authorization", "") + headers.get("x-api-key", ""))
        return r

    def test_openai_chat_whole(self):
        secret = new_secret()
        script([json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-test",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": f"Your key is {PLACEHOLDER}.",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {
                    "name": "set_key", "arguments": json.dumps({"key": PLACEHOLDER})}}]}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}})], "application/json")
        r = openai_client().chat.completions.create(
            model="gpt-test",
            messages=[{"role": "system", "content": "You help."}, {"role": "user", "content": f"my key is {secret}"}],
            tools=[{"type": "function", "function": {"name": "set_key", "parameters": {"type": "object"}}}],
        )
        self.assertEqual(r.choices[0].message.content, f"Your key is {secret}.")
        self.assertEqual(json.loads(r.choices[0].message.tool_calls[0].function.arguments), {"key": secret})
        self.assertEqual(r.usage.total_tokens, 39)
        body = json.loads(self.sent(secret)["body"])
        self.assertEqual(body["tools"][0]["function"]["name"], "set_key", "unknown fields pass through")
        self.assertEqual(body["messages"][0], {"role": "system", "content": "Never print secrets."}, "the workspace's system prompt first")
        self.assertEqual(body["messages"][1]["content"], "You help.")

    def test_openai_chat_stream_split_text_and_tool_arguments(self):
        secret = new_secret()
        chunk = lambda delta, finish=None: sse({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test",
                                                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        script([
            chunk({"role": "assistant", "content": "key __WARDEN_SEC"}),
            chunk({"content": "RET_1__ ok"}),
            chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "set_key", "arguments": "{\"key\": \"__WARDEN"}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "_SECRET_1__\"}"}}]}),
            chunk({}, "tool_calls"),
            sse({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test", "choices": [],
                 "usage": {"prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32}}),
            sse("[DONE]"),
        ])
        text, args = "", ""
        for c in openai_client().chat.completions.create(
                model="gpt-test", stream=True, messages=[{"role": "user", "content": f"use {secret}"}]):
            for ch in c.choices:
                text += ch.delta.content or ""
                for t in ch.delta.tool_calls or []:
                    args += t.function.arguments or ""
        self.assertEqual(text, f"key {secret} ok")
        self.assertEqual(json.loads(args), {"key": secret})
        body = json.loads(self.sent(secret)["body"])
        self.assertTrue(body["stream"])

    def test_openai_responses_stream(self):
        secret = new_secret()
        ev = lambda d: sse(d, d["type"])
        script([
            ev({"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress", "model": "gpt-test", "output": []}}),
            ev({"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "key __WARDEN_SE", "logprobs": []}),
            ev({"type": "response.output_text.delta", "sequence_number": 2, "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "CRET_1__ ok", "logprobs": []}),
            ev({"type": "response.output_text.done", "sequence_number": 3, "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": f"key {PLACEHOLDER} ok", "logprobs": []}),
            ev({"type": "response.completed", "sequence_number": 4, "response": {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": "gpt-test",
                "output": [{"id": "msg_1", "type": "message", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": f"key {PLACEHOLDER} ok", "annotations": []}]}],
                "usage": {"input_tokens": 9, "output_tokens": 4, "total_tokens": 13, "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}}}),
        ])
        deltas, done, final = "", None, None
        for e in openai_client().responses.create(model="gpt-test", input=f"remember {secret}", stream=True):
            if e.type == "response.output_text.delta":
                deltas += e.delta
            elif e.type == "response.output_text.done":
                done = e.text
            elif e.type == "response.completed":
                final = e.response.output[0].content[0].text
        self.assertEqual(deltas, f"key {secret} ok")
        self.assertEqual(done, f"key {secret} ok")
        self.assertEqual(final, f"key {secret} ok")
        self.assertTrue(self.sent(secret)["path"].endswith("/responses"))

    def test_anthropic_stream_with_tool_use(self):
        secret = new_secret()
        ev = lambda d: sse(d, d["type"])
        script([
            ev({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-test",
                "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}),
            ev({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ev({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "key __WARDEN_SECRET"}}),
            ev({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "_1__ ok"}}),
            ev({"type": "content_block_stop", "index": 0}),
            ev({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "set_key", "input": {}}}),
            ev({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"key\": \"__WARDEN_SE"}}),
            ev({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "CRET_1__\"}"}}),
            ev({"type": "content_block_stop", "index": 1}),
            ev({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 20}}),
            ev({"type": "message_stop"}),
        ])
        with anthropic_client().messages.stream(
                model="claude-test", max_tokens=100,
                system=f"deploy key {secret}",
                messages=[{"role": "user", "content": "set it"}]) as s:
            final = s.get_final_message()
        self.assertEqual(final.content[0].text, f"key {secret} ok")
        self.assertEqual(final.content[1].input, {"key": secret})
        self.assertEqual(final.usage.output_tokens, 20)
        sent = self.sent(secret)
        self.assertTrue(sent["path"].endswith("/messages"))
        self.assertEqual(json.loads(sent["body"])["system"], "Never print secrets.\n\ndeploy key " + PLACEHOLDER)

    def test_anthropic_whole_with_tool_result(self):
        secret = new_secret()
        script([json.dumps({"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-test",
                            "content": [{"type": "text", "text": f"key {PLACEHOLDER}"},
                                        {"type": "tool_use", "id": "toolu_2", "name": "set_key", "input": {"key": PLACEHOLDER}}],
                            "stop_reason": "tool_use", "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5}})],
               "application/json")
        r = anthropic_client().messages.create(model="claude-test", max_tokens=50, messages=[
            {"role": "user", "content": "read the env"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "sh", "input": {"cmd": "env"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": f"AWS_ACCESS_KEY_ID={secret}"}]},
        ])
        self.assertEqual(r.content[0].text, f"key {secret}")
        self.assertEqual(r.content[1].input, {"key": secret})
        self.sent(secret)

    def test_without_the_token_401_in_each_apis_shape(self):
        with self.assertRaises(openai.AuthenticationError) as e:
            openai_client(key="sk-not-the-token").chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        self.assertIn("token", str(e.exception))
        with self.assertRaises(anthropic.AuthenticationError) as e:
            anthropic_client(key="sk-ant-wrong").messages.create(model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
        self.assertEqual(e.exception.body["error"]["type"], "authentication_error")
        self.assertEqual(len(requests()), self.before, "nothing reached the provider")

    def test_budget_and_deny_list_refuse_before_sending(self):
        base = GATEWAY["baseUrl"].rstrip("/") + "/w/" + TIGHT + "/v1"
        with self.assertRaises(openai.RateLimitError) as e:
            openai_client(base=base).chat.completions.create(model="gpt-test", max_tokens=500, messages=[{"role": "user", "content": "x " * 400}])
        self.assertIn("llm.budget.requestTokens", str(e.exception))
        with self.assertRaises(openai.PermissionDeniedError) as e:
            openai_client(base=base).chat.completions.create(model="gpt-test", max_tokens=5, messages=[{"role": "user", "content": "the launch codes"}])
        self.assertIn("denyList", str(e.exception))
        self.assertEqual(len(requests()), self.before, "nothing reached the provider")

    def test_models_lists_the_workspaces_models_in_both_sdks(self):
        ids = [m.id for m in openai_client().models.list()]
        self.assertIn("gpt-test", ids)
        self.assertIn("claude-test", ids)
        self.assertIn("claude-test", [m.id for m in anthropic_client().models.list()])
        self.assertEqual(len(requests()), self.before, "answered by the gateway itself")

    def test_a_spent_daily_budget_refuses_the_next_call_before_sending(self):
        base = GATEWAY["baseUrl"].rstrip("/") + "/w/" + DAILY + "/v1"
        script([json.dumps({
            "id": "chatcmpl-d", "object": "chat.completion", "created": 1, "model": "gpt-test",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22}})], content_type="application/json")
        first = openai_client(base=base).chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        self.assertEqual(first.choices[0].message.content, "ok")
        self.assertEqual(len(requests()), self.before + 1)
        # The call is recorded after its last byte: wait for its cost before the next one.
        deadline = time.monotonic() + 15
        while not any(s["workspace"] == DAILY and s.get("costUsd", 0) > 0 for s in llm_spans(5)):
            self.assertLess(time.monotonic(), deadline, "the first call's cost was recorded")
            time.sleep(0.1)
        with self.assertRaises(openai.RateLimitError) as e:
            openai_client(base=base).chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi again"}])
        self.assertIn("llm.budget.dailyUsd", str(e.exception))
        self.assertIn(DAILY, str(e.exception))
        self.assertEqual(len(requests()), self.before + 1, "the refused call never reached the provider")

    def malicious_stream(self):
        chunk = lambda delta, finish=None: sse({"id": "c2", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test",
                                                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        script([chunk({"role": "assistant", "content": "Install it:\n\npip install pilll"}), chunk({"content": "ow\n"}),
                chunk({}, "stop"),
                sse({"id": "c2", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test", "choices": [],
                     "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}}),
                sse("[DONE]")])

    def test_a_malicious_package_in_a_reply_is_recorded(self):
        self.malicious_stream()
        text = "".join(c.choices[0].delta.content or "" for c in openai_client().chat.completions.create(
            model="gpt-test", stream=True, messages=[{"role": "user", "content": "how do I resize images?"}]) if c.choices)
        self.assertEqual(text, "Install it:\n\npip install pilllow\n")
        span = llm_spans(5)[0]
        self.assertIn("pilllow", (span.get("output") or {}).get("packages") or "", span)

    def test_a_package_its_registry_does_not_have_is_flagged_once_the_registry_answered(self):
        # The first reply naming it sends the name to the registry in the background (the
        # reply is not held up); a later reply naming it has the answer. Wait for that.
        chunk = lambda delta, finish=None: sse({"id": "c3", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test",
                                                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        deadline = time.monotonic() + 30
        while True:
            script([chunk({"role": "assistant", "content": "Install it:\n\npip install reqeusts-toolbelt\n"}), chunk({}, "stop"),
                    sse({"id": "c3", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test", "choices": [],
                         "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}),
                    sse("[DONE]")])
            text = "".join(c.choices[0].delta.content or "" for c in openai_client().chat.completions.create(
                model="gpt-test", stream=True, messages=[{"role": "user", "content": "how do I retry requests?"}]) if c.choices)
            self.assertEqual(text, "Install it:\n\npip install reqeusts-toolbelt\n")
            packages = (llm_spans(1)[0].get("output") or {}).get("packages") or ""
            if packages or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        self.assertIn("a package its registry does not have", packages)
        self.assertIn("reqeusts-toolbelt (PyPI", packages)

    def test_block_malicious_refuses_a_streamed_reply_before_any_of_it_is_sent(self):
        self.malicious_stream()
        base = GATEWAY["baseUrl"].rstrip("/") + "/w/" + TIGHT + "/v1"
        with self.assertRaises(openai.PermissionDeniedError) as e:
            for _ in openai_client(base=base).chat.completions.create(
                    model="gpt-test", stream=True, max_tokens=5, messages=[{"role": "user", "content": "resize images?"}]):
                self.fail("no chunk may reach the client")
        self.assertIn("pilllow", str(e.exception))
        self.assertIn("blockMalicious", str(e.exception))
        # The registry has no pilllow either (removed): said once, as malicious.
        self.assertNotIn("registry does not have", str(e.exception))

    def test_zz_calls_are_recorded_under_their_workspace_without_secrets(self):
        spans = llm_spans(100)
        gateway = [s for s in spans if (s.get("input") or {}).get("gateway")]
        clients = {s["input"]["client"].split("/")[0] for s in gateway}
        self.assertTrue({"OpenAI", "Anthropic"} <= clients, clients)
        self.assertTrue(all(s["workspace"] in (GATEWAY["workspace"], DAILY) for s in gateway if s["outcome"] == "ok"))
        ok = [s for s in gateway if s["outcome"] == "ok"]
        self.assertGreaterEqual(len(ok), 5)
        self.assertTrue(all(s["tokens"]["input"] > 0 for s in ok), [s["tokens"] for s in ok])
        refused = [s for s in gateway if s["outcome"] == "error" and s["workspace"] == TIGHT]
        self.assertEqual(len(refused), 3, "the budget, deny-list and malicious-package refusals are recorded")
        # No planted secret reached the database: every AKIA... key in it is a placeholder.
        with sqlite3.connect(DB) as c:
            rows = c.execute("SELECT prompt || coalesce(response, '') FROM llm_interactions WHERE action = 'gateway'").fetchall()
        self.assertGreaterEqual(len(rows), 5)
        dump = "".join(r[0] for r in rows)
        self.assertIn(PLACEHOLDER, dump)
        self.assertNotRegex(dump, r"AKIA[A-Z2-7]{16}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
