"""The bundled demo corpus (`examples/articles/`) parsed by the real parser.

Each demo page is a saved-style page from a different CMS. For each one we state what the
parsed article must keep (body sentences, headings) and what must be gone (menus, product
boxes, prices, cookie banners, comment forms, bylines, tables of contents, "See also" link
text), in the manner of trafilatura's `tests/realworld_tests.py`. The first few tests check
the corpus itself, so that a "gone" phrase is known to be on the page and the test is not
vacuous.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from indexer.parse import parse_article
from kb.models import Article, Section

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "articles"

Row = tuple[str, ...]


@dataclass(frozen=True)
class Page:
    """What one demo page must parse into."""

    source: str
    title: str
    canonical: str | None  # None: the page declares no canonical URL and no og:url
    categories: tuple[str, ...] | None  # None: the page has no clear category source, not checked
    published: str  # the date part of the publication date
    kept: tuple[str, ...]
    gone: tuple[str, ...]
    lead: str = ""  # a phrase from the text before the first heading
    headings: tuple[str, ...] = ()  # section headings that must appear exactly
    tags: tuple[str, ...] | None = None
    see_also: tuple[str, ...] = ()  # hrefs of the in-article "See also" boxes
    faq: tuple[tuple[str, str], ...] = ()  # (question, a phrase of its answer)
    anchors: tuple[tuple[str, str], ...] = ()  # (heading, id): the deep link ends with "#id"
    fragment_headings: tuple[str, ...] = ()  # headings without any id: text-fragment deep links
    toc: tuple[str, ...] = ()  # table-of-contents entries: headings, never section text
    tables: tuple[tuple[str, tuple[Row, ...]], ...] = ()  # (heading of the section, body rows)


PHARMACY_BOILERPLATE = (
    "Order Now",
    "Shipping Policy",
    "Our Pharmacists",
    "Affordable medications online",
    "Leave a Reply",
    "Your email address will not be published",
    "We use cookies to ensure that we give you the best experience",
    "© 2024 Pharmacy Example. All rights reserved.",
    "not a substitute for professional medical advice",
    "Jane Doe",
    "See also",
)
MUSCLECARE_BOILERPLATE = (
    "Spring sale: 15% off our massage guns",
    "Stretching Routines",
    "Gear Reviews",
    "About the Journal",
    "Leave a Comment",
    "Share on Facebook",
    "Pin it",
    "Get our weekly mobility tips",
    "Join 20,000 readers",
    "Latest articles",
    "Manage Cookie Consent",
    "we use technologies like cookies",
    "© 2024 MuscleCare Journal",
    "min read",
    "See also",
)

PAGES: tuple[Page, ...] = (
    Page(
        source="baclofen-for-spasticity.html",
        title="Baclofen for Spasticity: How It Works, Doses and Side Effects",
        canonical="https://pharmacy.example/baclofen/baclofen-for-spasticity/",
        categories=("Muscle Relaxants",),
        tags=("Baclofen", "Spasticity"),
        published="2024-01-15",
        lead="Baclofen has been prescribed for decades to ease the stiffness",
        kept=(
            "In the United States baclofen tablets are sold in 5 mg, 10 mg and 20 mg strengths.",
            "Baclofen isn’t a painkiller",
            "A common plan is 5 mg three times a day, increased by 5 mg per dose every three days.",
            "Running out of tablets over a holiday weekend",
            "Passing urine more often than usual",
            "A single 10mg tablet sits well within the usual range.",
        ),
        gone=PHARMACY_BOILERPLATE
        + (
            "$0.48 per pill",
            "Dosage: 10mg, 25mg",
            "Baclofen (Lioresal)",
            "Share this:",
            "My neurologist started me on baclofen",
            "Does anyone else get a dry mouth",
            "thoughts on",
            "Free standard delivery",
            "How to Store Your Medicines Safely at Home",
            "Choosing a Heat Pack for Sore Muscles",
            "Intrathecal Baclofen Therapy – What to Expect from a Pump",
            "Tizanidine vs Baclofen for Spasticity in Multiple Sclerosis",
        ),
        headings=(
            "What baclofen is used for",
            "How the medicine acts on the nervous system",
            "Common effects",
        ),
        see_also=(
            "https://spasticity-clinic.example/en/intrathecal-baclofen-pump-therapy.html",
            "https://pharmacy.example/muscle-relaxants/tizanidine-vs-baclofen-for-ms-spasticity/",
        ),
        faq=(
            ("How long does it take for baclofen to work?", "full benefit usually becomes clear"),
            ("Can I drink alcohol while taking baclofen?", "Alcohol deepens the drowsiness"),
            ("Is 10mg of baclofen a strong dose?", "sits well within the usual range"),
            ("Can baclofen be taken during pregnancy?", "occasionally shown withdrawal signs"),
        ),
        fragment_headings=(
            "What baclofen is used for",
            "Why kidney function matters",
            "Stopping treatment safely",
        ),
    ),
    Page(
        source="robaxin-methocarbamol-guide.html",
        title="Robaxin (Methocarbamol): A Practical Guide",
        canonical="https://musclecare.example/robaxin-methocarbamol-guide/",
        categories=("Muscle Relaxants",),
        tags=("Methocarbamol", "Robaxin"),
        published="2024-02-06",
        lead="Methocarbamol, sold under the brand name Robaxin, is one of the older muscle relaxants",
        kept=(
            "For adults the label suggests 1500 mg four times a day for the first 48 to 72 hours",
            "Methocarbamol tablets come in two strengths, 500 mg and 750 mg",
            "it may turn brown, black or green while you take the medicine",
            "Methocarbamol may weaken the effect of pyridostigmine",
            "numbness around the groin or buttocks",
        ),
        gone=MUSCLECARE_BOILERPLATE
        + (
            "Table of Contents",
            "Order Now",
            "From $0.62 per tablet",
            "Robaxin 500mg / 750mg",
            "Sam Patel",
            "Foam Rolling for Beginners",
            "The Best Massage Guns We Tested This Year",
            "Muscle Spasm vs. Spasticity: What Is the Difference?",
            "Tizanidine (Zanaflex): Your Questions Answered",
        ),
        headings=("What Is Methocarbamol?", "The first two or three days", "Side Effects to Expect"),
        see_also=(
            "https://bodyguide.example/muscle-spasm-vs-spasticity/",
            "https://musclecare.example/tizanidine-zanaflex-faq/",
        ),
        anchors=(
            ("What Is Methocarbamol?", "what-is-methocarbamol"),
            ("Strengths and Usual Doses", "strengths-and-doses"),
            ("The first two or three days", "the-first-two-or-three-days"),
            ("Side Effects to Expect", "side-effects"),
            ("Warning signs that need prompt care", "warning-signs"),
        ),
        toc=(
            "What Is Methocarbamol?",
            "Strengths and Usual Doses",
            "The first two or three days",
            "After the first days",
            "Side Effects to Expect",
            "Interactions and Precautions",
            "How Long to Take It",
            "Warning signs that need prompt care",
        ),
    ),
    Page(
        source="tizanidine-zanaflex-faq.html",
        title="Tizanidine (Zanaflex): Your Questions Answered",
        canonical="https://musclecare.example/tizanidine-zanaflex-faq/",
        categories=("Muscle Relaxants",),
        tags=("Tizanidine", "Zanaflex"),
        published="2024-03-04",
        lead="best known by the brand name Zanaflex, relieves spasticity",
        kept=(
            "It comes as scored tablets of 2 mg and 4 mg and as capsules of 2 mg, 4 mg and 6 mg.",
            "Its effect peaks one to two hours after a dose and fades within three to six hours",
            "The labelled limit is 36 mg in 24 hours.",
        ),
        gone=MUSCLECARE_BOILERPLATE
        + (
            "Maria Lopez",
            "Robaxin (Methocarbamol): A Practical Guide",
            "The Best Massage Guns We Tested This Year",
            "Tizanidine vs Baclofen for Spasticity in Multiple Sclerosis",
        ),
        headings=("Tizanidine in brief", "Forms and strengths"),
        see_also=("https://pharmacy.example/muscle-relaxants/tizanidine-vs-baclofen-for-ms-spasticity/",),
        anchors=(
            ("Tizanidine in brief", "tizanidine-in-brief"),
            ("Forms and strengths", "forms-and-strengths"),
        ),
        faq=(
            ("How is tizanidine usually started?", "Most people begin with 2 mg"),
            ("What is the maximum daily dose of tizanidine?", "The labelled limit is 36 mg in 24 hours."),
            (
                "Is there a difference between the tablets and the capsules?",
                "choose one routine and keep to it",
            ),
            ("What should I do if I miss a dose?", "Never take two doses together"),
            (
                "Which medicines must never be taken with tizanidine?",
                "Fluvoxamine, an antidepressant, and cipro",
            ),
            ("Why does my doctor want blood tests?", "Tizanidine occasionally injures the liver."),
            ("Can tizanidine lower my blood pressure?", "Tizanidine is related to clonidine"),
            ("What happens if I stop tizanidine suddenly?", "rebound high blood pressure"),
            ("Is it safe to drive while taking tizanidine?", "Sleepiness is very common"),
            ("Does kidney function change the dose?", "creatinine clearance falls below 25 mL/min"),
        ),
    ),
    Page(
        source="gabapentin-dosage-guide.html",
        title="Gabapentin Dosage Guide: Neurontin, Gralise and Horizant Compared",
        canonical="https://nervehealth.example/articles/gabapentin-dosage-guide",
        categories=("Nerve Pain",),
        published="2024-02-20",
        lead="Gabapentin is sold under several names, and the products are not interchangeable",
        kept=(
            "Gabapentin binds to the alpha-2-delta subunit of voltage-gated calcium channels",
            "Gralise is taken once a day with the evening meal and is increased over two weeks",
            "For restless legs syndrome the usual dose is a single 600 mg tablet with food at about 5 p.m.",
            "People on haemodialysis receive an extra dose after each session.",
            "which otherwise cuts its absorption by about a fifth",
        ),
        gone=(
            "Sam Patel",
            "Skip to main content",
            "Main navigation",
            "Nerve Pain Library",
            "Symptom Checker",
            "Find a Pain Clinic",
            "Breadcrumb",
            "Tags",
            "Add new comment",
            "Recent content",
            "What Is Peripheral Neuropathy?",
            "Sign up for the NerveHealth newsletter",
            "Powered by Drupal",
            "© 2024 NerveHealth Foundation",
            "We use cookies on this site to enhance your user experience",
            "No, thanks",
            "Gabapentin for Postherpetic Neuralgia",
            "See also",
        ),
        headings=(
            "What gabapentin is prescribed for",
            "Immediate-release gabapentin",
            "Adjusting for kidney function",
        ),
        see_also=("https://painwise.example/learn/gabapentin-for-postherpetic-neuralgia",),
        fragment_headings=("What gabapentin is prescribed for", "Horizant"),
        tables=(
            (
                "Gabapentin products and strengths",
                (
                    ("Neurontin capsules", "gabapentin", "100 mg, 300 mg, 400 mg", "three times a day"),
                    ("Neurontin tablets", "gabapentin", "600 mg, 800 mg", "three times a day"),
                    ("Neurontin oral solution", "gabapentin", "250 mg per 5 mL", "three times a day"),
                    (
                        "Gralise",
                        "gabapentin, gastroretentive",
                        "300 mg, 600 mg",
                        "once a day with the evening meal",
                    ),
                    ("Horizant", "gabapentin enacarbil", "300 mg, 600 mg", "once or twice a day with food"),
                ),
            ),
            (
                "Immediate-release gabapentin",
                (
                    ("Day 1", "300 mg once", "300 mg"),
                    ("Day 2", "300 mg twice", "600 mg"),
                    ("Day 3", "300 mg three times", "900 mg"),
                ),
            ),
            (
                "Adjusting for kidney function",
                (
                    ("60 or more", "900–3600 mg", "three times a day"),
                    ("30 to 59", "400–1400 mg", "twice a day"),
                    ("15 to 29", "200–700 mg", "once a day"),
                    ("Less than 15", "100–300 mg", "once a day"),
                ),
            ),
        ),
    ),
    Page(
        source="cyclobenzaprine-flexeril-amrix-explained.html",
        title="Cyclobenzaprine Explained: Flexeril, Amrix and Short-Term Use",
        canonical="https://backcare.example/cyclobenzaprine-flexeril-amrix-explained/",
        categories=("Muscle Relaxants",),
        published="2023-11-08",
        lead="It was first marketed as Flexeril; today most prescriptions are filled with generic tablets",
        kept=(
            "Chemically, cyclobenzaprine is a close relative of the tricyclic antidepressant amitriptyline.",
            "In comparative studies the 5 mg dose relieved spasm about as well as 10 mg",
            "Amrix capsules contain 15 mg or 30 mg and are taken once a day",
            "you have taken a monoamine oxidase inhibitor (MAOI) in the last 14 days",
            "Cyclobenzaprine can contribute to serotonin syndrome",
        ),
        gone=(
            "Home » Muscle Relaxants",
            "Evidence-based help for sore backs",
            "Back Exercises",
            "Ergonomic Chairs",
            "Ask a Physio",
            "Dana Whitfield",
            "Medically reviewed by",
            "Cyclobenzaprine 10mg",
            "$12.90",
            "Order Now",
            "Share this article:",
            "LinkedIn",
            "About The Author",
            "Dana is a physical therapist",
            "Related Posts",
            "Sleeping Positions That Ease Back Pain",
            "Heat or Ice for a Pulled Back Muscle?",
            "Previous Post",
            "Leave a Comment",
            "Free 7-day back reset plan",
            "Popular now",
            "We are using cookies to give you the best experience",
            "Copyright © 2024 BackCare Notes",
            "Muscle Relaxants for Low Back Pain: Do They Help?",
            "Fibromyalgia Medication Options: What the Evidence Says",
            "See also",
        ),
        headings=(
            "How cyclobenzaprine works",
            "Extended-release capsules (Amrix)",
            "Who should avoid cyclobenzaprine",
        ),
        see_also=(
            "https://spinewise.example/2024/03/low-back-pain-muscle-relaxants.html",
            "https://fibrocare.example/posts/fibromyalgia-medication-options/",
        ),
        fragment_headings=("How cyclobenzaprine works", "Immediate-release tablets"),
    ),
    Page(
        source="intrathecal-baclofen-pump-therapy.html",
        title="Intrathecal Baclofen Therapy – What to Expect from a Pump",
        canonical="https://spasticity-clinic.example/en/intrathecal-baclofen-pump-therapy.html",
        categories=("Spasticity",),
        published="2023-09-25",
        lead="For people whose spasticity stays severe despite tablets",
        kept=(
            "sold in France as Liorésal®",
            "The usual first dose is 50 µg in 1 mL, given slowly over at least one minute.",
            "The pump’s reservoir holds 20 or 40 mL of baclofen solution.",
            "The battery lasts several years – typically five to seven",
            "in steps of 10–30% a day for spinal spasticity",
            "most people end up between 300 and 800 µg per day",
            "“Can I walk home after the test?”",
        ),
        gone=(
            "This website uses cookies",
            "More information",
            "Français",
            "Our team",
            "Book an appointment",
            "How to find us",
            "Patient information",
            "Botulinum toxin injections",
            "Emergency pump problem?",
            "Call the 24-hour pump line",
            "Hélène Martin",
            "Print this page",
            "Email this page",
            "© 2024 Spasticity Clinic",
            "Clinique de la spasticité",
            "Baclofen for Spasticity: How It Works, Doses and Side Effects",
            "Managing Spasticity After Spinal Cord Injury",
            "See also",
        ),
        headings=("Why give baclofen into the spinal fluid?", "The screening test", "Refill appointments"),
        see_also=(
            "https://pharmacy.example/baclofen/baclofen-for-spasticity/",
            "https://sci-living.example/blog/spinal-cord-injury-spasticity",
        ),
        fragment_headings=("The screening test", "Withdrawal"),
    ),
    Page(
        source="muscle-spasm-vs-spasticity.html",
        title="Muscle Spasm vs. Spasticity: What Is the Difference?",
        canonical="https://bodyguide.example/muscle-spasm-vs-spasticity/",
        categories=("Conditions",),
        published="2024-01-29",
        lead="The words spasm and spasticity sound alike",
        kept=(
            "A calf cramp at night is the classic example",
            "The stiffness is velocity-dependent",
            "Modified Ashworth Scale, which scores resistance to passive movement from 0 to 4",
            "Cyclobenzaprine has not been shown to help spasticity from brain or spinal cord disease",
            "holding one posture for a long time, for example at a desk",
        ),
        gone=(
            "Skip to main content",
            "Top level navigation menu",
            "Conditions A–Z",
            "Medicines A–Z",
            "About BodyGuide",
            "Tom Becker",
            "Mastodon",
            "Bluesky",
            "Shin Splints: Causes and Recovery",
            "Restless Legs Syndrome Explained",
            "Get one plain-English health explainer every Sunday",
            "© 2024 BodyGuide",
            "Built with Eleventy",
            "Baclofen for Spasticity: How It Works, Doses and Side Effects",
            "Robaxin (Methocarbamol): A Practical Guide",
            "See also",
        ),
        headings=("What is a muscle spasm?", "Common triggers", "Treating spasticity"),
        see_also=(
            "https://pharmacy.example/baclofen/baclofen-for-spasticity/",
            "https://musclecare.example/robaxin-methocarbamol-guide/",
        ),
        anchors=(
            ("What is a muscle spasm?", "what-is-a-muscle-spasm"),
            ("Common triggers", "common-triggers"),
            ("What is spasticity?", "what-is-spasticity"),
            ("Conditions that cause spasticity", "conditions-that-cause-spasticity"),
            ("How doctors tell them apart", "how-doctors-tell-them-apart"),
            ("Treating acute muscle spasm", "treating-acute-muscle-spasm"),
            ("Treating spasticity", "treating-spasticity"),
            ("When to see a doctor", "when-to-see-a-doctor"),
        ),
    ),
    Page(
        source="gabapentin-for-postherpetic-neuralgia.html",
        title="Gabapentin for Postherpetic Neuralgia",
        canonical="https://painwise.example/learn/gabapentin-for-postherpetic-neuralgia",
        categories=("Nerve Pain",),
        published="2024-04-09",
        lead="Shingles usually clears within a month, but for some people the pain outlasts the rash",
        kept=(
            "Pain that persists three months or more after the rash appeared is defined as postherpetic neuralgia.",
            "roughly one in three people taking gabapentin had their pain at least halved",
            "The 300mg capsule is the building block of this schedule",
            "Lidocaine 5% plasters applied over the painful skin for up to 12 hours in every 24",
            "The recombinant zoster vaccine is given as two doses two to six months apart",
        ),
        gone=(
            "Pain Diary App",
            "Community Forum",
            "Sign in",
            "Jane Doe",
            "7 min read",
            "Share on Facebook",
            "Copy link",
            "Keep reading",
            "What Is Neuropathic Pain?",
            "Shingles Vaccine: Your Questions",
            "Get the PainWise newsletter",
            "Practical tips for living with chronic pain",
            "© 2024 PainWise Health Ltd",
            "Editorial policy",
            "We use cookies to personalise content",
            "Accept all",
            "Gabapentin Dosage Guide: Neurontin, Gralise and Horizant Compared",
            "Combining Gabapentin With Muscle Relaxants: Safety Notes",
            "See also",
        ),
        headings=("What postherpetic neuralgia is", "If your kidneys are not working fully", "Side effects"),
        see_also=(
            "https://nervehealth.example/articles/gabapentin-dosage-guide",
            "https://medsafety.example/gabapentin-with-muscle-relaxants/",
        ),
        fragment_headings=("What postherpetic neuralgia is", "Starting treatment"),
    ),
    Page(
        source="low-back-pain-muscle-relaxants.html",
        title="Muscle Relaxants for Low Back Pain: Do They Help?",
        canonical="https://spinewise.example/2024/03/low-back-pain-muscle-relaxants.html",
        categories=(),  # Blogger labels are rel="tag" links: tags, not categories
        tags=("Back Pain", "Muscle Relaxants"),
        published="2024-03-19",
        lead="Muscle relaxants are among the medicines most often prescribed for a sudden bout of low back pain.",
        kept=(
            "trials comparing muscle relaxants with a placebo show a small extra reduction in pain",
            "The American College of Physicians recommends starting with non-drug treatments",
            "it is converted in the body to meprobamate",
            "Staying as active as the pain allows, rather than resting in bed.",
        ),
        gone=(
            "Notes from a spine clinic",
            "About the Clinic",
            "Exercise Videos",
            "Disclaimer",
            "Tuesday, March 19, 2024",
            "Dr. Ana Ruiz",
            "Posted by",
            "Email This",
            "BlogThis!",
            "Share to Facebook",
            "Labels:",
            "No comments:",
            "Post a Comment",
            "Newer Post",
            "Older Post",
            "Post Comments (Atom)",
            "Follow by Email",
            "Popular Posts",
            "Five Desk Posture Myths",
            "About Me",
            "Powered by Blogger",
            "This site uses cookies from Google",
            "Cyclobenzaprine Explained: Flexeril, Amrix and Short-Term Use",
            "See also",
        ),
        headings=(
            "What the evidence shows",
            "Which muscle relaxants are used",
            "What helps more than tablets",
        ),
        see_also=("https://backcare.example/cyclobenzaprine-flexeril-amrix-explained/",),
        faq=(
            ("How long should I take a muscle relaxant for back pain?", "no longer than one to two weeks"),
            (
                "Can I take a muscle relaxant together with ibuprofen or naproxen?",
                "adding a muscle relaxant to an NSAID brings little extra relief",
            ),
            (
                "Is it safe to drive after taking cyclobenzaprine or methocarbamol?",
                "Not until you know how the medicine affects you.",
            ),
            ("Will a muscle relaxant help sciatica?", "comes from an irritated nerve root"),
            ("When is back pain an emergency?", "loss of bladder or bowel control"),
        ),
        fragment_headings=("What the evidence shows",),
    ),
    Page(
        source="fibromyalgia-medication-options.html",
        title="Fibromyalgia Medication Options: What the Evidence Says",
        canonical="https://fibrocare.example/posts/fibromyalgia-medication-options/",
        categories=("Conditions",),
        published="2024-02-12",
        lead="There is no cure for fibromyalgia, and no single medicine works for everyone.",
        kept=(
            "European recommendations published in 2016 gave their only strong endorsement to exercise.",
            "is started at 30 mg once a day for a week and then taken as 60 mg once a day",
            "Taken at bedtime in low doses, such as 5 mg or 10 mg",
            "One moderate-sized trial found benefit at 1200 to 2400 mg a day",
            "Strong opioids have not been shown to help fibromyalgia",
        ),
        gone=(
            "Table of Contents",
            "Flare Toolkit",
            "Priya Shah",
            "1140 words",
            "« Prev",
            "Next »",
            "Pacing for Beginners",
            "Sleep and Fibromyalgia: Breaking the Cycle",
            "Share on X",
            "Share on WhatsApp",
            "Powered by",
            "PaperMod",
            "© 2024 FibroCare",
            "Cyclobenzaprine Explained: Flexeril, Amrix and Short-Term Use",
            "See also",
        ),
        headings=("Understanding fibromyalgia", "Exercise and sleep come first", "Low-dose cyclobenzaprine"),
        see_also=("https://backcare.example/cyclobenzaprine-flexeril-amrix-explained/",),
        faq=(
            (
                "How long before a fibromyalgia medicine starts to work?",
                "Sleep often improves within one to two",
            ),
            ("Can pregabalin and gabapentin be taken together?", "They act on the same target"),
            ("Is it safe to take cyclobenzaprine every night?", "Next-morning drowsiness, dry mouth"),
            ("Will I need medication for the rest of my life?", "Symptoms fluctuate"),
        ),
        anchors=(
            ("Understanding fibromyalgia", "understanding-fibromyalgia"),
            ("Low-dose cyclobenzaprine", "low-dose-cyclobenzaprine"),
            ("Medicines that are usually avoided", "medicines-that-are-usually-avoided"),
        ),
        toc=(
            "Understanding fibromyalgia",
            "Exercise and sleep come first",
            "Medicines approved in the United States",
            "Off-label options",
            "Low-dose cyclobenzaprine",
            "Medicines that are usually avoided",
        ),
    ),
    Page(
        source="tizanidine-vs-baclofen-for-ms-spasticity.html",
        title="Tizanidine vs Baclofen for Spasticity in Multiple Sclerosis",
        canonical="https://pharmacy.example/muscle-relaxants/tizanidine-vs-baclofen-for-ms-spasticity/",
        categories=("Muscle Relaxants", "Multiple Sclerosis"),
        tags=("Baclofen", "Tizanidine"),
        published="2024-02-27",
        lead="In head-to-head trials they ease stiffness about equally well",
        kept=(
            "Baclofen mimics the inhibitory messenger GABA at GABA-B receptors",
            "have liver disease or take a medicine that blocks CYP1A2",
            "find that baclofen makes their legs feel weak when walking",
            "Tizanidine acts for only three to six hours",
            "Tizanidine must not be taken with fluvoxamine or ciprofloxacin",
            "A 10 mg dose of baclofen and a 4 mg dose of tizanidine are not equivalent",
        ),
        gone=PHARMACY_BOILERPLATE
        + (
            "In this article",
            "$0.39 per pill",
            "$0.48 per pill",
            "Dosage: 2mg, 4mg",
            'In "Muscle Relaxants"',
            "Choosing a Heat Pack for Sore Muscles",
            "How to Store Your Medicines Safely at Home",
            "Join our mailing list",
            "Get refill reminders",
            "Baclofen for Spasticity: How It Works, Doses and Side Effects",
            "Tizanidine (Zanaflex): Your Questions Answered",
        ),
        headings=("How the two drugs work", "Head-to-head comparison", "Never stop either one suddenly"),
        see_also=(
            "https://pharmacy.example/baclofen/baclofen-for-spasticity/",
            "https://musclecare.example/tizanidine-zanaflex-faq/",
        ),
        toc=(
            "How the two drugs work",
            "Head-to-head comparison",
            "Effectiveness in trials",
            "Choosing between them",
            "Practical dosing differences",
            "Safety points for both medicines",
            "Never stop either one suddenly",
            "Sedation, driving and falls",
            "When tablets are not enough",
        ),
        tables=(
            (
                "Head-to-head comparison",
                (
                    ("Drug class", "GABA-B receptor agonist", "Alpha-2 adrenergic agonist"),
                    (
                        "Oral strengths",
                        "5 mg, 10 mg and 20 mg tablets; oral liquids",
                        "2 mg and 4 mg tablets; 2 mg, 4 mg and 6 mg capsules",
                    ),
                    (
                        "Usual starting dose",
                        "5 mg three times a day",
                        "2 mg, repeated up to three times a day",
                    ),
                    ("Maximum daily dose", "80 mg", "36 mg"),
                    (
                        "Main route of elimination",
                        "Kidneys, mostly unchanged",
                        "Liver, through the enzyme CYP1A2",
                    ),
                    (
                        "Typical side effects",
                        "Drowsiness, muscle weakness, dizziness",
                        "Drowsiness, dry mouth",
                    ),
                    ("Routine monitoring", "Kidney function", "Liver enzymes and blood pressure"),
                ),
            ),
        ),
    ),
    Page(
        source="methocarbamol-side-effects-and-interactions.html",
        title="Methocarbamol Side Effects and Drug Interactions",
        canonical=None,
        categories=None,  # Joomla: only itemprop="genre" and the breadcrumb name the category
        published="2024-03-21",
        lead="Most people who take methocarbamol for a few days notice little beyond some drowsiness.",
        kept=(
            "such as 500mg instead of 750mg at a time",
            "Methocarbamol and its breakdown products can turn urine brown, black or green",
            "swelling of the face, lips or tongue",
            "seizures, reported mainly with the injection",
            "Tip from the dispensary",
            "such as the MedWatch programme in the United States",
        ),
        gone=(
            "Plain-language notes on everyday medicines",
            "Pharmacy Locator",
            "Pill Identifier",
            "You are here:",
            "Details",
            "Written by:",
            "Robert Kim",
            "Hits:",
            "Previous article",
            "Most Read",
            "Carisoprodol Facts",
            "Understanding Muscle Cramps",
            "Receive our monthly medicine safety digest",
            "Copyright © 2024 RxNotes",
            "is Free Software released under the",
            "RxNotes uses essential cookies only",
            "Robaxin (Methocarbamol): A Practical Guide",
            "See also",
        ),
        headings=("Common side effects", "Why your urine may change colour", "Pyridostigmine"),
        see_also=("https://musclecare.example/robaxin-methocarbamol-guide/",),
        fragment_headings=("Common side effects", "Why your urine may change colour", "Pyridostigmine"),
    ),
    Page(
        source="gabapentin-with-muscle-relaxants-safety.html",
        title="Combining Gabapentin With Muscle Relaxants: Safety Notes",
        canonical="https://medsafety.example/gabapentin-with-muscle-relaxants/",
        categories=None,  # Ghost has tags only
        tags=("Interactions", "Gabapentin"),
        published="2024-05-06",
        lead="Gabapentin and a muscle relaxant are often prescribed together",
        kept=(
            "Warning signs of over-sedation include unusual difficulty waking",
            "Both drugs are cleared mainly by the kidneys.",
            "Cyclobenzaprine adds anticholinergic effects such as dry mouth",
            "Start one new medicine at a time",
            "The aim is the smallest number of medicines, at the smallest doses",
        ),
        gone=(
            "Interaction Alerts",
            "Ask a Pharmacist",
            "Sign in",
            "Jane Doe",
            "5 min read",
            "Join the discussion",
            "Become a member of MedSafety Notes",
            "Sign up now",
            "Opioids and Benzodiazepines: A Dangerous Pair",
            "Grapefruit and Your Medicines",
            "Powered by Ghost",
            "© 2024",
            "Tizanidine (Zanaflex): Your Questions Answered",
            "Gabapentin for Postherpetic Neuralgia",
            "See also",
        ),
        headings=("Why the combination is used", "Gabapentin and baclofen", "Practical safety steps"),
        see_also=(
            "https://musclecare.example/tizanidine-zanaflex-faq/",
            "https://painwise.example/learn/gabapentin-for-postherpetic-neuralgia",
        ),
        anchors=(
            ("Why the combination is used", "why-the-combination-is-used"),
            ("Gabapentin and baclofen", "gabapentin-and-baclofen"),
            ("When an opioid is added too", "when-an-opioid-is-added-too"),
        ),
    ),
    Page(
        source="spinal-cord-injury-spasticity.html",
        title="Managing Spasticity After Spinal Cord Injury",
        canonical="https://sci-living.example/blog/spinal-cord-injury-spasticity",
        categories=None,  # Squarespace: a category link only
        published="2024-01-22",
        lead="Most people with a spinal cord injury above the lower back develop some degree of spasticity",
        kept=(
            "Over the following days to weeks the reflex circuits in the spinal cord below the injury wake up",
            "If your injury is at the sixth thoracic level or higher",
            "many people take a 10 mg tablet three or four times a day",
            "Once my team treated a bladder infection I didn’t know I had",
            "Keep a simple spasm diary for two weeks before a clinic appointment",
        ),
        gone=(
            "Our spring peer-mentor training opens",
            "Stories & Guides",
            "Peer Support",
            "Accessible Travel",
            "Who We Are",
            "Donate",
            "Ben Carter",
            "Posted in",
            "Share this story",
            "Choosing a Wheelchair Cushion That Protects Your Skin",
            "Getting Back Behind the Wheel With Hand Controls",
            "Stay in the loop",
            "Monthly stories, equipment tips",
            "Sign Up",
            "© 2024 SCI Living Network",
            "Accessibility statement",
            "This website uses cookies to improve your experience",
            "Muscle Spasm vs. Spasticity: What Is the Difference?",
            "Intrathecal Baclofen Therapy – What to Expect from a Pump",
            "See also",
        ),
        headings=("Why spasticity develops", "Check for triggers first", "Gabapentin and other options"),
        see_also=(
            "https://bodyguide.example/muscle-spasm-vs-spasticity/",
            "https://spasticity-clinic.example/en/intrathecal-baclofen-pump-therapy.html",
        ),
        fragment_headings=("Why spasticity develops", "Baclofen", "Working with your team"),
    ),
)

NO_CANONICAL = "methocarbamol-side-effects-and-interactions.html"
WINDOWS_1252 = "intrathecal-baclofen-pump-therapy.html"


def norm(text: str) -> str:
    """Compatibility-normalised text with runs of whitespace (and &nbsp;) as one space."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


BY_SOURCE = {p.source: p for p in PAGES}
TITLE_BY_URL = {p.canonical: p.title for p in PAGES if p.canonical}


def ids(page: Page) -> str:
    return page.source.removesuffix(".html")


@cache
def parsed(source: str) -> Article:
    path = EXAMPLES / source
    return parse_article(path.read_bytes(), source=source, fallback_url=path.resolve().as_uri())


@cache
def raw_soup(source: str) -> BeautifulSoup:
    return BeautifulSoup((EXAMPLES / source).read_bytes(), "lxml")


def full_text(article: Article) -> str:
    return norm(" ".join(s.heading + " " + s.text for s in article.sections))


def section(article: Article, heading: str) -> Section:
    found = [s for s in article.sections if norm(s.heading) == norm(heading)]
    assert found, f"no section headed {heading!r}; headings: {[s.heading for s in article.sections]}"
    return found[0]


def pages_with(attr: str) -> list[Page]:
    return [p for p in PAGES if getattr(p, attr)]


# The corpus itself ---------------------------------------------------------------------------


def test_corpus_has_at_least_twelve_pages_and_each_has_expectations() -> None:
    on_disk = {p.name for p in EXAMPLES.glob("*.html")}
    assert len(on_disk) >= 12
    assert on_disk == set(BY_SOURCE)


@pytest.mark.parametrize("page", PAGES, ids=ids)
def test_expected_phrases_are_really_on_the_raw_page(page: Page) -> None:
    soup = raw_soup(page.source)
    page_text = norm(soup.get_text())
    hrefs = {a["href"] for a in soup.find_all("a", href=True)}
    phrases = [*page.kept, *page.gone, *page.headings, *page.toc, page.lead, page.title]
    phrases += [q for q, _ in page.faq] + [a for _, a in page.faq]
    assert [p for p in phrases if norm(p) not in page_text] == []
    assert set(page.see_also) <= hrefs
    headings = {
        norm("".join(s for s in h.find_all(string=True) if not s.find_parent(hidden=True)))
        for h in soup.find_all(["h2", "h3", "h4"])
    }
    assert [h for h in page.toc if norm(h) not in headings] == []


def test_see_also_boxes_point_at_canonical_urls_of_other_demo_pages() -> None:
    for page in PAGES:
        for url in page.see_also:
            assert url in TITLE_BY_URL, f"{page.source}: {url} is not a demo page"
            assert url != page.canonical


def test_exactly_one_page_has_no_canonical_url() -> None:
    missing = []
    for page in PAGES:
        soup = raw_soup(page.source)
        has_url = soup.find("link", rel="canonical") or soup.find("meta", property="og:url")
        if not has_url:
            missing.append(page.source)
        assert bool(has_url) == (page.canonical is not None), page.source
    assert missing == [NO_CANONICAL]


def test_windows_1252_page_is_stored_in_windows_1252() -> None:
    data = (EXAMPLES / WINDOWS_1252).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("cp1252")
    assert '<meta charset="windows-1252">' in text
    assert {"é", "’", "–", "µ", "®"} <= set(text)


# The parsed articles -------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=ids)
def test_parsed_article_keeps_the_article_text(page: Page) -> None:
    text = full_text(parsed(page.source))
    assert [k for k in page.kept if norm(k) not in text] == []


@pytest.mark.parametrize("page", PAGES, ids=ids)
def test_parsed_article_drops_the_boilerplate(page: Page) -> None:
    text = full_text(parsed(page.source))
    assert [g for g in page.gone if norm(g) in text] == []


@pytest.mark.parametrize("page", PAGES, ids=ids)
def test_title_drops_the_site_name_suffix(page: Page) -> None:
    assert norm(parsed(page.source).title) == norm(page.title)


@pytest.mark.parametrize("page", PAGES, ids=ids)
def test_url_is_the_canonical_url_or_else_none(page: Page) -> None:
    assert parsed(page.source).url == (page.canonical or "")  # a file: fallback is no link a reader can open


@pytest.mark.parametrize("page", [p for p in PAGES if p.categories is not None], ids=ids)
def test_categories_come_from_the_page_metadata(page: Page) -> None:
    assert page.categories is not None
    assert sorted(parsed(page.source).categories) == sorted(page.categories)


@pytest.mark.parametrize("page", [p for p in PAGES if p.tags is not None], ids=ids)
def test_tags_come_from_rel_tag_links_and_article_tag_metadata(page: Page) -> None:
    assert page.tags is not None
    assert set(parsed(page.source).tags) == set(page.tags)


@pytest.mark.parametrize("page", PAGES, ids=ids)
def test_publication_date_is_read(page: Page) -> None:
    published = parsed(page.source).published
    assert published is not None and published.startswith(page.published)


@pytest.mark.parametrize("page", PAGES, ids=ids)
def test_description_is_the_meta_description_and_lang_is_english(page: Page) -> None:
    article = parsed(page.source)
    meta = raw_soup(page.source).find("meta", attrs={"name": "description"})
    assert meta is not None
    assert norm(article.description) == norm(str(meta["content"]))
    assert article.lang.lower().startswith("en")


@pytest.mark.parametrize("page", pages_with("see_also"), ids=ids)
def test_see_also_links_become_related_links(page: Page) -> None:
    related = {r.url: r.title for r in parsed(page.source).related}
    assert set(page.see_also) <= set(related)
    for url in page.see_also:
        assert norm(related[url]) == norm(TITLE_BY_URL[url])


@pytest.mark.parametrize("page", pages_with("lead"), ids=ids)
def test_text_before_the_first_heading_is_the_lead(page: Page) -> None:
    sections = parsed(page.source).sections
    assert sections and sections[0].kind == "lead"
    assert norm(page.lead) in norm(sections[0].text)
    assert [s for s in sections[1:] if s.kind == "lead"] == []


@pytest.mark.parametrize("page", pages_with("headings"), ids=ids)
def test_headings_are_kept_exactly(page: Page) -> None:
    headings = {norm(s.heading) for s in parsed(page.source).sections}
    assert [h for h in page.headings if norm(h) not in headings] == []
    assert [h for h in headings if h.endswith("#") or h.endswith("¶")] == []


@pytest.mark.parametrize("page", pages_with("faq"), ids=ids)
def test_each_faq_question_becomes_one_faq_section_holding_its_answer(page: Page) -> None:
    sections = parsed(page.source).sections
    for question, answer in page.faq:
        matches = [s for s in sections if norm(s.heading) == norm(question)]
        assert len(matches) == 1, f"{question!r} appears as a heading {len(matches)} times"
        assert matches[0].kind == "faq"
        assert norm(answer) in norm(matches[0].text)
    questions = {norm(q) for q, _ in page.faq}
    assert [s.heading for s in sections if s.kind == "faq" and norm(s.heading) not in questions] == []


@pytest.mark.parametrize("page", [p for p in PAGES if not p.faq], ids=ids)
def test_pages_without_a_faq_have_no_faq_sections(page: Page) -> None:
    assert [s.heading for s in parsed(page.source).sections if s.kind == "faq"] == []


def test_faq_page_questions_match_its_faqpage_json_ld() -> None:
    page = BY_SOURCE["tizanidine-zanaflex-faq.html"]
    scripts = raw_soup(page.source).find_all("script", type="application/ld+json")
    blocks = [json.loads(s.string or "") for s in scripts]
    faq = [b for b in blocks if b.get("@type") == "FAQPage"]
    assert len(faq) == 1
    questions = [(q["name"], q["acceptedAnswer"]["text"]) for q in faq[0]["mainEntity"]]
    assert [norm(q) for q, _ in questions] == [norm(q) for q, _ in page.faq]
    assert all(norm(a) in norm(text) for (_, a), (_, text) in zip(page.faq, questions, strict=True))


@pytest.mark.parametrize("page", pages_with("tables"), ids=ids)
def test_each_table_row_stays_on_one_line(page: Page) -> None:
    article = parsed(page.source)
    for heading, rows in page.tables:
        lines = [norm(line) for line in section(article, heading).text.split("\n")]
        for row in rows:
            own = [
                line
                for line in lines
                if all(norm(cell) in line for cell in row)
                and not any(norm(other[0]) in line for other in rows if other is not row)
            ]
            assert own, f"row {row} is not on a line of its own under {heading!r}: {lines}"


@pytest.mark.parametrize("page", pages_with("toc"), ids=ids)
def test_table_of_contents_entries_are_headings_never_text(page: Page) -> None:
    sections = parsed(page.source).sections
    for entry in page.toc:
        assert [s.heading for s in sections if norm(entry) in norm(s.text)] == [], entry


def test_windows_1252_page_decodes_accents_quotes_and_symbols() -> None:
    article = parsed(WINDOWS_1252)
    text = " ".join(s.heading + " " + s.text for s in article.sections)
    assert "Liorésal" in text
    assert "pump’s" in text
    assert "10–30%" in text
    assert "®" in text
    assert "µg" in text or "μg" in text
    assert "–" in article.title
    assert not any(mojibake in text for mojibake in ("Ã", "â€", "\ufffd"))


@pytest.mark.parametrize("page", pages_with("anchors"), ids=ids)
def test_heading_or_section_id_gives_a_deep_link_to_that_id(page: Page) -> None:
    article = parsed(page.source)
    for heading, anchor in page.anchors:
        assert section(article, heading).deep_link.endswith("#" + anchor), heading


@pytest.mark.parametrize("page", pages_with("fragment_headings"), ids=ids)
def test_heading_without_an_id_gives_a_text_fragment_deep_link(page: Page) -> None:
    article = parsed(page.source)
    for heading in page.fragment_headings:
        link = section(article, heading).deep_link
        assert "#:~:text=" in link if page.canonical else link == "", heading  # no site URL: no deep link


@pytest.mark.parametrize("page", PAGES, ids=ids)
def test_demo_article_is_600_to_1500_words(page: Page) -> None:
    assert 600 <= len(full_text(parsed(page.source)).split()) <= 1500
