"""Word lists the demo business is made of: people, companies, titles, products, phrases.

Plain data, no logic. The demo's domains end in `.example` (reserved by RFC 2606), so no
generated e-mail address can ever reach a real person.
"""

from keel.crm.models import BuyingRole, Channel

FIRST_NAMES = (
    "Anna", "Lukas", "Sofia", "Jonas", "Emma", "Elias", "Mia", "Noah", "Lea", "Finn",
    "Clara", "Paul", "Hannah", "Felix", "Lina", "Leon", "Marie", "Ben", "Laura", "David",
    "Julia", "Tobias", "Sarah", "Simon", "Lisa", "Matteo", "Giulia", "Lorenzo", "Chiara",
    "Alessandro", "Francesca", "Luca", "Martina", "Pierre", "Camille", "Louis", "Chloé",
    "Hugo", "Manon", "Jules", "Inès", "Lucas", "Léa", "Pablo", "Lucía", "Javier", "Carmen",
    "Diego", "Elena", "Sergio", "Marta", "Jan", "Eva", "Piotr", "Zofia", "Tomasz", "Agnieszka",
    "Martin", "Petra", "Jakub", "Tereza", "Erik", "Ingrid", "Lars", "Astrid", "Nils", "Freya",
    "Oskar", "Sigrid", "Mikkel", "Sanne", "Daan", "Fleur", "Bram", "Noor", "Sem", "Lotte",
    "James", "Olivia", "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Thomas",
    "Grace", "Liam", "Aoife", "Sean", "Niamh", "Rui", "Beatriz", "Tiago", "Inês", "Yusuf",
    "Amira", "Omar", "Leyla", "Arjun", "Priya", "Wei", "Mei", "Kenji", "Yuki", "Samuel",
)  # fmt: skip

LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz",
    "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Werner", "Krause",
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
    "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Martin", "Bernard", "Dubois",
    "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent",
    "Lefebvre", "Michel", "García", "Fernández", "González", "Rodríguez", "López",
    "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz", "Nowak", "Kowalski", "Wiśniewski",
    "Wójcik", "Kowalczyk", "Kamiński", "Novák", "Svoboda", "Dvořák", "Černý", "Procházka",
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsen",
    "Hansen", "Jensen", "Nielsen", "Pedersen", "Lindqvist", "Berg", "de Jong", "Jansen",
    "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "Smith", "Jones",
    "Taylor", "Brown", "Williams", "Wilson", "Evans", "Walsh", "O'Brien", "Murphy",
    "Kelly", "Byrne", "Silva", "Santos", "Ferreira", "Pereira", "Costa", "Oliveira",
    "Yılmaz", "Kaya", "Demir", "Shah", "Patel", "Chen", "Wang", "Tanaka", "Haddad",
)  # fmt: skip

BRAND_HEADS = (
    "North", "South", "East", "West", "Blue", "Silver", "Bright", "Iron", "Oak", "Red",
    "Clear", "Ever", "High", "Lake", "Stone", "Green", "Gold", "Sun", "Star", "Moon",
    "Fair", "Deep", "Swift", "True", "Wide", "Old", "New", "Black", "White", "Grey",
    "Elm", "Ash", "Pine", "Cedar", "Birch", "Maple", "Rose", "Fox", "Hawk", "Wolf",
    "Bear", "Crow", "Kings", "Queens", "Bay", "Cliff", "Glen", "Hill", "Mill", "Brook",
)  # fmt: skip
BRAND_TAILS = (
    "wind", "field", "line", "water", "bridge", "ridge", "stone", "path", "gate", "point",
    "crest", "vale", "wood", "haven", "mark", "port", "light", "spring", "ford", "wick",
    "moor", "dale", "shore", "peak", "view", "well", "stead", "holm", "ton", "bury",
)  # fmt: skip

# industry: (weight, nouns a company name in it ends with)
INDUSTRIES: dict[str, tuple[int, tuple[str, ...]]] = {
    "Manufacturing": (
        16,
        (
            "Precision",
            "Components",
            "Engineering",
            "Tooling",
            "Industries",
            "Fabrication",
            "Plastics",
            "Machines",
        ),
    ),
    "Professional services": (
        13,
        ("Consulting", "Advisory", "Partners", "Associates", "Accountants", "Legal"),
    ),
    "Software": (11, ("Software", "Systems", "Labs", "Digital", "Cloud", "Analytics", "Apps")),
    "Healthcare": (9, ("Clinics", "Dental", "Care", "Medical", "Health", "Physio")),
    "Logistics": (9, ("Logistics", "Freight", "Transport", "Shipping", "Couriers")),
    "Construction": (8, ("Builders", "Construction", "Roofing", "Interiors", "Architects")),
    "Wholesale": (8, ("Wholesale", "Supplies", "Distribution", "Trading", "Imports")),
    "Financial services": (7, ("Finance", "Insurance", "Capital", "Leasing", "Wealth")),
    "Hospitality": (6, ("Hotels", "Catering", "Restaurants", "Events", "Travel")),
    "Energy": (5, ("Energy", "Solar", "Power", "Heating", "Utilities")),
    "Education": (4, ("Academy", "Training", "Learning", "College")),
    "Retail": (4, ("Retail", "Stores", "Outfitters", "Home", "Fashion")),
}

# region: (weight, legal suffix, phone prefix)
REGIONS: dict[str, tuple[int, str, str]] = {
    "DACH": (28, "GmbH", "+49"),
    "Benelux": (14, "B.V.", "+31"),
    "Nordics": (13, "AB", "+46"),
    "UK & Ireland": (13, "Ltd", "+44"),
    "France": (11, "SAS", "+33"),
    "Iberia": (8, "S.L.", "+34"),
    "Italy": (7, "S.r.l.", "+39"),
    "Central & Eastern Europe": (6, "sp. z o.o.", "+48"),
}

# Job titles by the buying role a contact usually plays: (small companies, big companies);
# at a big company the decision maker is rarely the CEO.
TITLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    BuyingRole.DECISION_MAKER: (
        ("Managing Director", "CEO", "Owner", "Founder & CEO", "General Manager"),
        ("VP Sales", "Chief Revenue Officer", "Sales Director", "CFO", "COO"),
    ),
    BuyingRole.CHAMPION: (
        ("Sales Manager", "Head of Sales", "Office Manager", "Operations Manager"),
        ("Head of Sales Operations", "Regional Sales Manager", "Head of Sales Enablement"),
    ),
    BuyingRole.INFLUENCER: (
        ("Head of Marketing", "Finance Manager", "Key Account Manager", "IT Manager"),
        ("Head of Procurement", "Marketing Director", "Head of IT", "HR Director"),
    ),
    BuyingRole.USER: (
        ("Account Executive", "Sales Representative", "Customer Service Lead"),
        ("Account Executive", "Business Development Rep", "Inside Sales Rep", "Team Lead"),
    ),
    BuyingRole.BLOCKER: (
        ("Bookkeeper", "Procurement Officer", "IT Administrator"),
        ("Procurement Manager", "Legal Counsel", "IT Security Lead", "Controller"),
    ),
}

# What the demo business sells: a B2B sales-training and consulting firm. (name, price)
PRODUCTS = (
    ("Sales Accelerator programme", 24000),
    ("Pipeline audit", 6500),
    ("Key-account workshop", 9800),
    ("Sales leadership coaching", 14500),
    ("CRM roll-out", 32000),
    ("Inside-sales bootcamp", 11800),
    ("Proposal & pricing review", 7200),
    ("Channel partner programme", 27500),
    ("Negotiation masterclass", 8900),
    ("Customer success playbook", 16400),
)

SOURCES: dict[str, tuple[str, ...]] = {
    Channel.SOCIAL_SELLING: ("LinkedIn outreach", "LinkedIn post", "LinkedIn group"),
    Channel.NETWORKING: (
        "Chamber of commerce breakfast",
        "BNI chapter",
        "Industry dinner",
        "Alumni network",
    ),
    Channel.COLD_CALLING: ("Cold list", "Call blitz", "Lapsed-lead list"),
    Channel.REFERRAL: ("Referral",),
    Channel.INBOUND_WEB: ("Website form", "Webinar sign-up", "Pricing page", "Whitepaper"),
    Channel.ADVERTISING: ("LinkedIn ads", "Search ads"),
    Channel.DIRECT_MAIL: ("Postcard campaign",),
    Channel.TRADESHOW: ("Sales Summit stand", "Regional expo"),
    Channel.PARTNER: ("Partner: Brightpath Consulting", "Partner: Veldt Systems"),
}
CAMPAIGNS: dict[str, str] = {
    Channel.INBOUND_WEB: "webinar series",
    Channel.ADVERTISING: "ads",
    Channel.DIRECT_MAIL: "mailing",
    Channel.TRADESHOW: "trade fairs",
}

NEXT_STEPS = (
    "Book the first meeting",
    "Agree a date for the demo",
    "Run the demo on their own data",
    "Meet the decision maker about budget",
    "Walk the buyer through the proposal",
    "Collect the signature",
)
NEXT_STEP_WON = "Kick-off meeting with the delivery team"
NEXT_STEP_REPEAT = ("Review the results with the customer", "Send the terms", "Get it signed")

LOST_NOTES = {
    "price": ("Went with a cheaper offer.", "Budget approved was 30% lower."),
    "competitor": ("Chose an incumbent supplier.", "Competitor bundled it with software."),
    "no_decision": ("Project shelved.", "Could not get the board to decide."),
    "timing": ("Asked us to come back next year.", "Reorganisation under way."),
    "no_budget": ("Budget frozen.", "Funding round delayed."),
    "poor_fit": ("Too small for the programme.", "Needs a different kind of help."),
    "went_dark": ("No reply to five follow-ups.", "Champion left the company."),
    "other": ("Merged with another company.",),
}

OVERRIDE_REASONS = (
    "Buyer confirmed verbally on the phone; the notes follow.",
    "Demo held at our trade-fair stand; not logged at the time.",
    "Existing customer of our partner; proof not needed.",
    "Signed purchase order received; the contract paperwork follows.",
    "Decision maker joined the call unannounced; contact to be added.",
    "Quarter-end deal approved by the owner.",
)

ACTIVITY_NOTES = (
    "Asked for references in their industry.",
    "Interested, wants to loop in finance.",
    "Busy until the end of the month.",
    "Good conversation about their sales targets.",
    "Sent the case study afterwards.",
    "Concerned about the time their team needs.",
)

AD_HOC_TASKS = (
    "Call back {contact}",
    "Send the case study to {contact}",
    "Prepare the account review for {company}",
    "Update the stakeholder map of {company}",
    "Ask {contact} for an introduction to finance",
    "Check in with {contact} after the holidays",
)

# The website: the pages people visit (with weights), what they download, where they ask.
WEB_PAGES = (
    ("/", 30),
    ("/blog/why-forecasts-miss", 5),
    ("/blog/the-first-90-days-of-a-sales-manager", 5),
    ("/blog/pricing-conversations", 4),
    ("/blog/key-account-planning", 4),
    ("/blog/cold-calling-is-not-dead", 4),
    ("/services/sales-accelerator", 8),
    ("/services/pipeline-audit", 6),
    ("/services/key-account-workshop", 4),
    ("/services/leadership-coaching", 4),
    ("/services/crm-roll-out", 4),
    ("/pricing", 9),
    ("/case-studies", 6),
    ("/about", 4),
    ("/events", 3),
)
DOWNLOADS = (
    "/resources/pipeline-audit-checklist.pdf",
    "/resources/key-account-plan-template.xlsx",
    "/resources/sales-playbook-sample.pdf",
    "/resources/state-of-b2b-sales-2025.pdf",
    "/resources/proposal-template.docx",
    "/resources/webinar-forecasting-slides.pdf",
)
INQUIRY_FORMS = ("/contact", "/request-a-proposal", "/book-a-call", "/pricing#quote")
MAIL_PROVIDERS = ("mail.example", "webmail.example", "inbox.example", "post.example")

REFERRAL_MEETING_NOTES = (
    "Two meetings logged late by Sofia's team.",
    "Counted a cancelled lunch by mistake.",
    "Added the partner breakfast in Milan.",
)
