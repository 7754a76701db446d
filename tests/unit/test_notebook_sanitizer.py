"""The notebooks' nbval sanitizer (tests/notebooks/sanitize.cfg), applied as nbval applies it: in file order."""

import configparser
import re
from pathlib import Path

SANITIZE_CFG = Path(__file__).parents[1] / "notebooks" / "sanitize.cfg"


def sanitized(text: str) -> str:
    """Applies each section's regex in the order nbval reads them (configparser's order)."""
    parser = configparser.ConfigParser()
    parser.read(SANITIZE_CFG)
    for section in parser.sections():
        text = re.sub(parser[section]["regex"], parser[section]["replace"], text)
    return text


class TestARequestIdIsOneVolatileValue:
    def test_a_uuid_ending_in_twelve_digits_is_a_uuid_not_an_account(self):
        """A Lambda request id's last group is 12 hex digits, and about one in 190 is all decimal digits.

        Read as an account id first, it became ``…-b68d-ACCOUNT`` and 02's cell 10 differed from the committed run.
        """
        line = "START RequestId: cfafe054-8365-4931-b68d-123456789012 Version: $LATEST"
        assert sanitized(line) == "START RequestId: UUID Version: $LATEST"

    def test_an_account_id_alone_is_still_an_account(self):
        assert sanitized("s3://pipeline-dreams-123456789012-eu-west-1/") == "s3://pipeline-dreams-ACCOUNT-eu-west-1/"
