from pathlib import Path

import pytest

from keel.accounts.models import Role, User
from keel.accounts.tests.factories import UserFactory
from keel.imports.services import ImportFile

FILES = Path(__file__).parent / "files"

HUBSPOT_STAGES = {
    "Appointment Scheduled": "Qualify",
    "Qualified To Buy": "1st meeting",
    "Contract Sent": "Proposal",
    "Closed Won": "Intake",
    "Closed Lost": "Lost",
}
SALESFORCE_STAGES = {
    "Prospecting": "Qualify",
    "Qualification": "1st meeting",
    "Proposal/Price Quote": "Proposal",
    "Negotiation/Review": "Close",
    "Closed Won": "Intake",
    "Closed Lost": "Lost",
}
PIPEDRIVE_STAGES = {
    "Demo Scheduled": "Proof",
    "Proposal Made": "Proposal",
    "Negotiations Started": "Close",
}


def fixture_file(name: str) -> ImportFile:
    return ImportFile(name=name, data=(FILES / name).read_bytes())


def csv_file(text: str, name: str = "import.csv") -> ImportFile:
    return ImportFile(name=name, data=text.encode())


@pytest.fixture
def mia(db: None) -> User:
    """Mia does marketing: she imports companies and contacts."""
    return UserFactory(username="mia", role=Role.MARKETER, email="mia@example.com")
