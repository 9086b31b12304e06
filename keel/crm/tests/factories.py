import factory

from keel.crm.models import Company, Contact


class CompanyFactory(factory.django.DjangoModelFactory[Company]):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.example")


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    company = factory.SubFactory(CompanyFactory)
    first_name = "Dana"
    last_name = factory.Sequence(lambda n: f"Buyer{n}")
    email = factory.LazyAttribute(lambda c: f"{c.last_name.lower()}@{c.company.domain}")
