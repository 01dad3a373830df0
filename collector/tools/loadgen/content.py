"""What the loadgen's llm profile talks about: the models it calls, the agents (service, system prompt,
questions, retrieved documents, tools, answers) and the fragments that fill them in, PII and leaked
credentials included. Data only; `profile.LlmProfile` turns it into traces."""

from __future__ import annotations

from dataclasses import dataclass

Scope = tuple[str, str]  # instrumentation scope (name, version)


@dataclass(frozen=True)
class Model:
    request: str
    response: str
    provider: str
    server: str
    weight: int
    scope: Scope
    tool_stop: str
    end_stop: str
    length_stop: str


MODELS = (
    Model("gpt-4o", "gpt-4o-2024-08-06", "openai", "api.openai.com", 35,
          ("opentelemetry.instrumentation.openai_v2", "2.1b0"), "tool_calls", "stop", "length"),
    Model("gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai", "api.openai.com", 30,
          ("opentelemetry.instrumentation.openai_v2", "2.1b0"), "tool_calls", "stop", "length"),
    Model("claude-sonnet-4", "claude-sonnet-4-20250514", "anthropic", "api.anthropic.com", 20,
          ("opentelemetry.instrumentation.anthropic", "0.40.7"), "tool_use", "end_turn", "max_tokens"),
    Model("gemini-2.5-pro", "gemini-2.5-pro", "gcp.gemini", "generativelanguage.googleapis.com", 15,
          ("opentelemetry.instrumentation.google_genai", "0.3b0"), "STOP", "STOP", "MAX_TOKENS"),
)
OPENINFERENCE_LLM_SCOPE: Scope = ("openinference.instrumentation.openai", "0.1.30")
RETRIEVER_SCOPE: Scope = ("openinference.instrumentation.llama_index", "4.3.1")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    arguments: str  # JSON, str.format_map'd with the trace's slots
    result: str


@dataclass(frozen=True)
class Agent:
    service: str
    agent: str
    route: str
    datastore: str
    collection: str
    system: str
    questions: tuple[str, ...]
    docs: tuple[str, ...]
    tools: tuple[Tool, ...]
    answers: tuple[str, ...]


AGENTS = (
    Agent(
        service="support-agent", agent="Support Agent", route="/v1/support/chat", datastore="qdrant",
        collection="help-center",
        system=("You are Acme's customer support assistant. Answer using only the provided help-center articles "
                "and tool results. Be concise and friendly, never invent order details, and escalate to a human "
                "agent when the customer asks for a refund above $500 or mentions legal action."),
        questions=(
            "Hi, my order {order_id} still hasn't arrived and the tracking page hasn't updated since {date}. "
            "Can you check what's going on?",
            "I was charged twice for order {order_id} ({amount}). Can you refund the duplicate charge?",
            "How do I change the shipping address on order {order_id}? I'm moving to {city} next week.",
            "The blender from order {order_id} stopped working after two days. Can I get a replacement "
            "instead of a refund?",
            "What's the return policy for things bought in the holiday sale? I'd like to return order {order_id}.",
        ),
        docs=(
            "Shipping delays: orders normally ship within 2 business days. If tracking has not updated for more "
            "than 5 business days, open a carrier trace and offer a reshipment or a full refund.",
            "Duplicate charges: a pending authorization may appear twice for up to 72 hours. If both charges "
            "settled, refund the duplicate through the payments tool and send confirmation template R-12.",
            "Address changes are possible until the order is handed to the carrier. After that the customer "
            "must use the carrier's redirect service; we cannot modify the label.",
            "Defective items: within 30 days of delivery customers may choose a replacement or a refund. Ask "
            "for a photo of the defect only if the item value exceeds $200.",
            "Holiday returns: items bought between Nov 15 and Dec 31 can be returned until Jan 31 of the "
            "following year, in original packaging, with free return shipping.",
        ),
        tools=(
            Tool("get_order_status", "Look up the fulfilment and shipping status of an order.",
                 '{{"order_id": "{order_id}"}}',
                 '{{"order_id": "{order_id}", "status": "in_transit", "carrier": "UPS", "tracking_number": '
                 '"{tracking}", "last_scan": "{date}T14:32:00Z", "last_location": "{city} distribution '
                 'center", "estimated_delivery": "{date2}"}}'),
            Tool("refund_payment", "Refund all or part of a captured payment.",
                 '{{"order_id": "{order_id}", "amount": {amount_num}, "reason": "duplicate_charge"}}',
                 '{{"refund_id": "re_{ref}", "status": "succeeded", "amount": {amount_num}, '
                 '"currency": "USD"}}'),
            Tool("create_replacement", "Create a free replacement shipment for a defective item.",
                 '{{"order_id": "{order_id}", "sku": "{sku}", "ship_to": "default"}}',
                 '{{"replacement_order_id": "{order_id}-R", "status": "created", "estimated_delivery": '
                 '"{date2}"}}'),
        ),
        answers=(
            "Thanks for your patience! I checked order {order_id}: it's in transit with UPS (tracking {tracking}) "
            "and was last scanned at the {city} distribution center. The new estimated delivery date is {date2}. "
            "If it hasn't arrived by then, reply here and I'll send a replacement right away.",
            "I've refunded the duplicate charge of {amount} for order {order_id} (refund reference re_{ref}). It "
            "can take 5-10 business days to show on your statement depending on your bank. Anything else?",
            "Sorry about that! I've created a free replacement for the item in order {order_id}; it should "
            "arrive by {date2}. You don't need to send the broken one back.",
        ),
    ),
    Agent(
        service="research-assistant", agent="Research Assistant", route="/v1/research/ask", datastore="pgvector",
        collection="papers",
        system=("You are a research assistant for an analytics team. Use the search tools to find recent, "
                "reputable sources, cite every claim with the source title and year, and clearly separate "
                "established findings from speculation."),
        questions=(
            "Summarize the latest research on retrieval-augmented generation for long documents, with citations.",
            "What are the main trade-offs between speculative decoding and quantization for LLM inference latency?",
            "Find recent statistics on {topic} adoption in {city} and compare them with the national average.",
            "Explain how mixture-of-experts models reduce training cost, and list three papers I should read first.",
        ),
        docs=(
            "Lewis et al. (2020), Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks: combines a "
            "parametric seq2seq model with a dense passage index and improves open-domain QA exact match.",
            "Leviathan et al. (2023), Fast Inference from Transformers via Speculative Decoding: a small draft "
            "model proposes tokens that the large model verifies in parallel, giving 2-3x speedups.",
            "Fedus et al. (2022), Switch Transformers: sparse expert routing scales parameters without a "
            "proportional increase in FLOPs per token; training is up to 7x faster at equal quality.",
            "Dettmers et al. (2022), LLM.int8(): 8-bit matrix multiplication with outlier decomposition keeps "
            "perplexity within 0.1 of fp16 while halving memory.",
        ),
        tools=(
            Tool("web_search", "Search the web and return the top results with snippets.",
                 '{{"query": "{topic} statistics {city} 2025", "max_results": 5}}',
                 '{{"results": [{{"title": "{topic} in {city}: 2025 survey", "url": "https://stats.example.org/'
                 '{ref}", "snippet": "Adoption reached 41% of mid-size firms, up from 29% a year earlier."}}, '
                 '{{"title": "National {topic} report", "url": "https://gov.example/report", "snippet": '
                 '"Nationally, 34% of firms report regular use."}}]}}'),
            Tool("fetch_url", "Download a web page and return its readable text.",
                 '{{"url": "https://arxiv.org/abs/2305.{pr}"}}',
                 '{{"status": 200, "title": "A Survey on {topic}", "text": "We review 112 papers published '
                 'between 2021 and 2025 and find that most gains come from better data, not architecture..."}}'),
        ),
        answers=(
            "Here is a short summary with sources. Established: dense retrieval plus generation improves factual "
            "accuracy on knowledge-intensive tasks (Lewis et al., 2020). Emerging: long-context models reduce but "
            "do not remove the need for retrieval on documents above ~100k tokens. Speculative: ...",
            "In {city}, {topic} adoption reached about 41% of mid-size firms in 2025 (regional survey), compared "
            "with 34% nationally (national report). The gap is driven mostly by the technology sector.",
            "Speculative decoding keeps output quality identical and cuts latency 2-3x when a good draft model "
            "exists; quantization cuts memory and cost but can cost accuracy below 8 bits (Dettmers et al., 2022).",
        ),
    ),
    Agent(
        service="code-review-bot", agent="Code Reviewer", route="/v1/review", datastore="weaviate",
        collection="repo-docs",
        system=("You are a senior engineer reviewing pull requests for the payments-service repository. Point "
                "out bugs, missing tests, security issues and performance problems. Quote the relevant lines, "
                "suggest concrete fixes and keep praise short."),
        questions=(
            "Please review PR #{pr} in acme/payments-service: it adds retry logic to the webhook dispatcher.",
            "Can you check whether the migration in PR #{pr} is safe to run on a table with 40M rows?",
            "Review the changes to the currency conversion module in PR #{pr}, especially the rounding.",
        ),
        docs=(
            "Style guide: money amounts are Decimal, never float; round half-even only at the presentation layer; "
            "every public function needs type hints and a docstring.",
            "Migrations: adding a column with a default on PostgreSQL 11+ is instant, but backfills must run in "
            "batches of at most 10k rows with a sleep between batches.",
            "Webhooks: retries use exponential backoff with jitter, at most 8 attempts, and must be idempotent "
            "using the event id as the deduplication key.",
        ),
        tools=(
            Tool("get_pull_request_diff", "Fetch the unified diff of a pull request.",
                 '{{"repo": "acme/payments-service", "number": {pr}}}',
                 '{{"files_changed": 3, "diff": "--- a/payments/webhooks.py\\n+++ b/payments/webhooks.py\\n@@ -41,'
                 '7 +41,15 @@\\n-    resp = client.post(url, json=event)\\n+    for attempt in range(10):\\n+      '
                 '  resp = client.post(url, json=event)\\n+        if resp.ok:\\n+            break\\n+        time.'
                 'sleep(2 ** attempt)"}}'),
            Tool("run_static_analysis", "Run ruff and mypy on the changed files.",
                 '{{"repo": "acme/payments-service", "ref": "pull/{pr}/head"}}',
                 '{{"ruff": ["payments/webhooks.py:44: B008 do not call time.sleep in request handlers"], "mypy": '
                 '["payments/fx.py:88: error: Argument 1 has incompatible type float; expected Decimal"]}}'),
        ),
        answers=(
            "Two issues in PR #{pr}: (1) the retry loop makes up to 10 attempts with no jitter and blocks the "
            "worker with time.sleep; the guide says at most 8 attempts with jittered backoff. (2) retries are not "
            "idempotent: pass the event id as Idempotency-Key. Please also add a test for the give-up path.",
            "The migration in PR #{pr} backfills 40M rows in one UPDATE, which will hold locks for minutes. Split "
            "it into batches of 10k rows and move the backfill out of the schema migration.",
            "fx.py line 88 converts through float, which loses precision; keep Decimal end to end and round "
            "half-even only when formatting. Otherwise the change looks good.",
        ),
    ),
    Agent(
        service="sales-copilot", agent="Sales Copilot", route="/v1/copilot/complete", datastore="pinecone",
        collection="product-catalog",
        system=("You help account executives prepare quotes and follow-up emails. Use CRM data for account "
                "context, use list prices from the product catalog only, apply discounts within the approval "
                "matrix (max 15% without VP approval) and write in a professional but warm tone."),
        questions=(
            "Draft a follow-up email for {company} after yesterday's demo and propose the Growth plan for 120 seats.",
            "What discount can I offer {company} if they sign a 3-year contract for 250 seats?",
            "Prepare a quote for {company}: 80 Enterprise seats plus premium support, starting {date2}.",
        ),
        docs=(
            "Growth plan: $39 per seat per month billed annually, includes SSO and 99.9% SLA. Volume tiers: "
            "100+ seats 5% off, 250+ seats 10% off.",
            "Enterprise plan: $65 per seat per month, includes audit logs, data residency and premium support "
            "option at 18% of license value.",
            "Approval matrix: AE up to 15%, regional VP up to 25%, anything above needs CFO approval. Multi-year "
            "prepay adds up to 5% extra.",
        ),
        tools=(
            Tool("crm_lookup", "Fetch account details, open opportunities and contacts from the CRM.",
                 '{{"account": "{company}"}}',
                 '{{"account": "{company}", "industry": "Logistics", "employees": 1800, "stage": "Evaluation", '
                 '"champion": "Head of Operations", "competitors": ["Globex"], "last_activity": "{date}"}}'),
            Tool("create_quote", "Create a draft quote in the CPQ system.",
                 '{{"account": "{company}", "plan": "enterprise", "seats": 80, "start": "{date2}", '
                 '"addons": ["premium_support"]}}',
                 '{{"quote_id": "Q-{pr}", "total_annual": 73632.0, "currency": "USD", "status": "draft"}}'),
        ),
        answers=(
            "Subject: Great connecting yesterday\n\nHi team at {company}, thanks for the time yesterday! Based on "
            "what you shared, the Growth plan for 120 seats comes to $44,460 per year after the 5% volume "
            "discount. Happy to set up a pilot next week.",
            "For 250 seats on a 3-year prepaid contract you can offer 15% (10% volume + 5% multi-year) without "
            "extra approval. Going above that needs your regional VP.",
            "Draft quote Q-{pr} is ready: 80 Enterprise seats plus premium support starting {date2}, $73,632 per "
            "year. Review it in CPQ before sending.",
        ),
    ),
)

CITIES = ("Austin", "Denver", "Lisbon", "Sao Paulo", "Toronto", "Berlin", "Seattle", "Manchester", "Recife")
TOPICS = ("generative AI", "cloud data warehouse", "edge computing", "robotic process automation", "MLOps")
COMPANIES = ("Initech", "Globex Logistics", "Umbrella Health", "Stark Freight", "Wayne Foods", "Soylent Labs")
FIRST = ("maria", "joao", "emily", "james", "ana", "lucas", "olivia", "noah", "fatima", "wei", "carlos", "sofia")
LAST = ("silva", "santos", "smith", "johnson", "oliveira", "garcia", "chen", "muller", "costa", "brown")
DOMAINS = ("gmail.com", "outlook.com", "yahoo.com.br", "protonmail.com", "acme-corp.com", "uol.com.br")
PII_SENTENCES = (
    " You can reach me at {email} or call {phone}.",
    " Please charge the card {card} (exp {exp}, CVV {cvv}) instead.",
    " For the invoice, my CPF is {cpf} and my email is {email}.",
    " My name is {name}, phone {phone}, and the card on file is {card}.",
    " Meu CPF e {cpf}, pode atualizar o cadastro? Telefone {phone}.",
)
SECRET_SENTENCES = (
    " I pasted our OpenAI key by mistake earlier: {openai_key}",
    " The deploy script still uses the AWS access key {aws_key}, is that a problem?",
    " curl -H 'Authorization: Bearer {jwt}' https://api.acme.example/v1/me returns 401.",
    " CI uses the token {github_token} and the maps widget the key {google_key}.",
    " Our Anthropic key {anthropic_key} stopped working yesterday.",
)
USER_AGENTS = ("acme-web/4.12.0 (+https://acme.example)", "acme-ios/7.3.1 CFNetwork/1494.0.7 Darwin/23.4.0",
                "python-httpx/0.27.0", "Slack-Bot/2.0 (acme-slack-connector)")
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
STACK = """Traceback (most recent call last):
  File "/app/agent/runtime.py", line 214, in run_step
    result = await self._invoke(step, context)
  File "/app/agent/runtime.py", line 187, in _invoke
    return await handler(**step.arguments)
  File "/app/.venv/lib/python3.12/site-packages/{module}/_base_client.py", line 1631, in request
    raise self._make_status_error_from_response(err.response) from None
{etype}: {emessage}
"""
