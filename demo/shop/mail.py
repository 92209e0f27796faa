"""An email backend for the demo: print each message and keep it for the dev mailbox page."""

from django.core.mail.backends.console import EmailBackend as ConsoleBackend


class DevMailboxBackend(ConsoleBackend):
    """Write messages to the console, as Django's console backend does, and store them."""

    def send_messages(self, email_messages):
        from shop.models import DevMail

        sent = super().send_messages(email_messages)
        for message in email_messages or ():
            for recipient in message.recipients():
                DevMail.objects.create(to=recipient, subject=message.subject, body=message.body)
        return sent
