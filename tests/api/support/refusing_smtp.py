"""An aiosmtpd handler for the mail tests: refuses the first N messages with a temporary error
(451), then delivers into a Maildir like aiosmtpd.handlers.Mailbox.

    python3 -m aiosmtpd -n -l HOST:PORT -c refusing_smtp.Refusing MAILDIR N
"""
from aiosmtpd.handlers import Mailbox


class Refusing(Mailbox):
    def __init__(self, mail_dir, refusals):
        super().__init__(mail_dir)
        self.left = int(refusals)

    async def handle_DATA(self, server, session, envelope):
        if self.left > 0:
            self.left -= 1
            return "451 4.3.0 refused by the test server"
        return await super().handle_DATA(server, session, envelope)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 2:
            parser.error("Refusing needs MAILDIR REFUSALS")
        return cls(args[0], args[1])
