"""Every hand-written rule list the tests check, with its document: ../shared/gold's three and the project's own."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GOLD = [
    (SHARED / "gold" / "refund_policy.json", REPO / "examples" / "refund_policy.md"),
    (SHARED / "gold" / "tau2_retail_policy.json", SHARED / "corpus" / "tau2_retail_policy.md"),
    (SHARED / "gold" / "github_acceptable_use.json", SHARED / "corpus" / "github_acceptable_use.md"),
    (REPO / "evals" / "gold" / "mcp_tools_spec.json", SHARED / "corpus" / "mcp_tools_spec.md"),
]
