"""The files of a run directory: every name synthgen writes there, defined here and nowhere else."""

BINDING_FILE = "run.json"  # the inputs and settings the directory is bound to
CALLS_FILE = "calls.jsonl"  # every model exchange, appended as it happens
TRACE_FILE = "trace.jsonl"  # the run's spans
USE_CASES_FILE = "use_cases.json"
POLICIES_FILE = "policies.json"
DECISIONS_FILE = "decisions.json"  # what became of every candidate statement: the audit of what was left out
TEST_CASES_FILE = "test_cases.json"
DATASET_FILE = "dataset.jsonl"
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "report.html"  # the run for a person to review, made from the files above (`synthgen report`)
PARTIAL_DATASET_FILE = "dataset.partial.jsonl"  # accepted examples as documents finish; gone once dataset.jsonl is
DATABASE_FILE = "dbos.sqlite"  # the DBOS system database of a run with no --database-url

# The dataset itself, in the order the manifest lists its outputs.
DATA_FILES = (USE_CASES_FILE, POLICIES_FILE, DECISIONS_FILE, TEST_CASES_FILE, DATASET_FILE)
# Everything synthgen writes into a run directory; --force removes these and nothing else.
RUN_FILES = (
    BINDING_FILE,
    CALLS_FILE,
    TRACE_FILE,
    *DATA_FILES,
    MANIFEST_FILE,
    REPORT_FILE,
    DATABASE_FILE,
    PARTIAL_DATASET_FILE,
)
