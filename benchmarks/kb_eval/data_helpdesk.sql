-- Deterministic synthetic data for schema_helpdesk.sql (database "helpdesk").
--
-- Run it after the schema, into empty tables, as one multi-statement string (or
-- psql -f). Plain SQL: no psql meta-commands and no random(): every value comes
-- from generate_series and md5() of the row number, so every run loads the same
-- rows and the same statistics. Ends with ANALYZE.
--
-- The data is a snapshot taken on 2025-07-01 00:00 UTC: every timestamp lies
-- before it. Issues span the two years before it; requesters go back to 2021,
-- help articles to 2020. Statements relative to now() therefore see all of the
-- data in the past (e.g. every open issue with a due date is past due).
--
-- Rows (the same on every run):
--   teams               24
--   agents             400  (366 active; 35 leads, 16 admins)
--   requesters     100,000  (40% without organization; 6 integration
--                            accounts that open 1,000 to 3,000 issues each;
--                            1.5% of addresses present twice in another case)
--   issues         120,000  (89% closed, 5% resolved, 2.5% spam, 2,233 open,
--                            1,550 pending, 705 on_hold; text[] tags from 40
--                            tags; jsonb custom with plan, order_ref,
--                            device_id, contract, app_version, ...)
--   issue_comments 236,497
--   issue_events   319,661  (the largest table)
--   help_articles    1,200  (en 500, de 250, fr 250, es 200; 85% published)
--
-- Distributions are skewed as in a real helpdesk: busy teams and agents, more
-- issues in recent months, recent issues still open, old ones closed. Ids of
-- issues, comments and events grow with their time, as an application
-- inserting them over the years would leave them.
--
-- A uniform number in [0, 1) is a 7-hex-digit slice of md5(<label> || row):
--   ('x' || substr(h, 1, 7))::bit(28)::int / 268435456.0
-- Times are computed as epoch seconds (to_timestamp) or on timestamp without
-- time zone, so the session's TimeZone does not change the data.
-- Temporary tmp_* tables hold vocabularies and intermediate rows; they are
-- dropped before the final ANALYZE.

-- Sorts of 100,000s of rows stay in memory; reset at the end.
SET work_mem = '256MB';

-- ---------------------------------------------------------------------------
-- teams: 24
-- ---------------------------------------------------------------------------
INSERT INTO teams (id, name, timezone)
SELECT id, name, tz
FROM (VALUES (1, 'Tier 1 Support', 'Europe/Berlin'), (2, 'Billing', 'Europe/Dublin'),
             (3, 'Technical Support', 'Europe/Berlin'), (4, 'Accounts & Access', 'Europe/London'),
             (5, 'Shipping & Returns', 'Europe/Amsterdam'), (6, 'Americas Support', 'America/New_York'),
             (7, 'Integrations', 'Europe/Berlin'), (8, 'Mobile Apps', 'Europe/Warsaw'),
             (9, 'Enterprise', 'Europe/London'), (10, 'APAC Support', 'Asia/Singapore'),
             (11, 'Payments', 'Europe/Dublin'), (12, 'Tier 2', 'Europe/Berlin'),
             (13, 'Onboarding', 'America/Chicago'), (14, 'Security', 'Europe/Berlin'),
             (15, 'API', 'Europe/Lisbon'), (16, 'Data & Privacy', 'Europe/Paris'),
             (17, 'Escalations', 'Europe/Berlin'), (18, 'Customer Success', 'America/Los_Angeles'),
             (19, 'Tier 3', 'Europe/Berlin'), (20, 'Partner Support', 'Europe/Madrid'),
             (21, 'Trust & Safety', 'America/New_York'), (22, 'Hardware', 'Asia/Tokyo'),
             (23, 'Sales Engineering', 'America/New_York'), (24, 'VIP Desk', 'Europe/Zurich'))
     AS v(id, name, tz);

-- ---------------------------------------------------------------------------
-- agents: 400; the first 72 spread over all teams, the rest skewed to busy teams
-- ---------------------------------------------------------------------------
INSERT INTO agents (id, team_id, email, full_name, role, active, last_login_at)
SELECT i, team_id,
       base || CASE WHEN rn > 1 THEN rn::text ELSE '' END || '@support.example.com',
       first || ' ' || last,
       CASE WHEN i <= 24 THEN 'lead' WHEN u4 < 0.03 THEN 'admin' WHEN u4 < 0.07 THEN 'lead'
            ELSE 'agent' END,
       active,
       CASE WHEN active THEN to_timestamp(1751327999 - 1209600 * power(u5, 3))
            WHEN u6 < 0.3 THEN NULL
            ELSE to_timestamp(1640995200 + 105000000 * u5) END
FROM (
    SELECT *, row_number() OVER (PARTITION BY base ORDER BY i) AS rn
    FROM (
        SELECT i, u4, u5, u6, first, last,
               CASE WHEN i <= 72 THEN 1 + (i - 1) % 24 ELSE 1 + floor(24 * power(u3, 1.4))::int END
                   AS team_id,
               lower(first) || '.' || lower(replace(replace(last, ' ', ''), 'ü', 'ue')) AS base,
               i <= 24 OR u7 >= 0.10 AS active
        FROM (
            SELECT i,
                   ('x' || substr(h1, 1, 7))::bit(28)::int / 268435456.0::float8 AS u1,
                   ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8 AS u2,
                   ('x' || substr(h1, 15, 7))::bit(28)::int / 268435456.0::float8 AS u3,
                   ('x' || substr(h1, 22, 7))::bit(28)::int / 268435456.0::float8 AS u4,
                   ('x' || substr(h2, 1, 7))::bit(28)::int / 268435456.0::float8 AS u5,
                   ('x' || substr(h2, 8, 7))::bit(28)::int / 268435456.0::float8 AS u6,
                   ('x' || substr(h2, 15, 7))::bit(28)::int / 268435456.0::float8 AS u7
            FROM generate_series(1, 400) AS i,
                 LATERAL (SELECT md5('agent:a:' || i) AS h1, md5('agent:b:' || i) AS h2) AS h
            OFFSET 0
        ) AS u,
        LATERAL (SELECT
            (ARRAY['Anna', 'Ben', 'Carla', 'David', 'Elif', 'Felix', 'Greta', 'Hamza', 'Ines', 'Jonas',
                   'Katja', 'Lukas', 'Marta', 'Nils', 'Olga', 'Pedro', 'Quentin', 'Rosa', 'Sven',
                   'Tara', 'Umut', 'Vera', 'Wiktor', 'Xenia', 'Yusuf', 'Zoe', 'Amir', 'Bianca',
                   'Chidi', 'Dana', 'Emeka', 'Fiona', 'Goran', 'Hana', 'Ivan', 'Jana', 'Kofi',
                   'Lena', 'Mateus', 'Nora'])[1 + floor(u1 * 40)::int] AS first,
            (ARRAY['Okafor', 'Schulz', 'Becker', 'Hoffmann', 'Koch', 'Richter', 'Klein', 'Wolf',
                   'Neumann', 'Schwarz', 'Lefebvre', 'Moreau', 'Laurent', 'Simon', 'Michel', 'Garcia',
                   'Romero', 'Navarro', 'Gallo', 'Conti', 'Kowalczyk', 'Lewandowski', 'Bakker',
                   'Visser', 'Smit', 'OBrien', 'Walsh', 'Byrne', 'Clarke', 'Hughes', 'Edwards',
                   'Lindqvist', 'Berg', 'Nieminen', 'Horvath', 'Popescu', 'Demir', 'Sahin',
                   'Nakamura', 'Sato'])[1 + floor(u2 * 40)::int] AS last
        ) AS n
    ) AS a
) AS a2
ORDER BY i;

-- ---------------------------------------------------------------------------
-- requesters: 100,000; created 2021-01-01 .. 2025-06-30, more recently.
-- created_at(i) = 2021-01-01 + 141868800 s * ((i - u) / 100000) ^ 0.7, so the
-- requesters who existed at epoch t are ids 1 .. 100000 * ((t - 1609459200) / 141868800) ^ (1/0.7).
-- Ids 1 to 6 are integrations (monitoring, web forms, ...).
-- ---------------------------------------------------------------------------
INSERT INTO requesters (id, email, organization, created_at)
OVERRIDING SYSTEM VALUE
SELECT i,
       CASE WHEN i <= 6 THEN (ARRAY['alerts@monitoring.example.net', 'forms@www.example.com',
                                    'noreply@shop-platform.example.org', 'billing-bot@payments.example.net',
                                    'sync@crm-connector.example.io', 'api@partner-portal.example.com'])[i]
            -- a number for a later namesake at the same domain; a few people
            -- write their address in another case and stay twice (lower(email))
            ELSE base || CASE WHEN rn > 1 AND NOT (rn_exact = 1 AND u9 < 0.25) THEN rn::text ELSE '' END
                 || '@' || domain END,
       CASE WHEN i <= 6 THEN 'Integrations' ELSE org END,
       created_at
FROM (
    SELECT *, row_number() OVER (PARTITION BY lower(base), domain ORDER BY i) AS rn,
              row_number() OVER (PARTITION BY base, domain ORDER BY i) AS rn_exact
    FROM (
        SELECT i, org, created_at, u9,
               CASE WHEN u3 < 0.30 THEN lower(first) || '.' || lower(elast)
                    WHEN u3 < 0.42 THEN left(first, 1) || '.' || elast
                    WHEN u3 < 0.52 THEN lower(left(first, 1)) || '.' || lower(elast)
                    WHEN u3 < 0.60 THEN first || '.' || elast
                    WHEN u3 < 0.72 THEN lower(first) || lower(elast)
                    WHEN u3 < 0.82 THEN lower(first)
                    WHEN u3 < 0.90 THEN lower(left(first, 1)) || lower(elast)
                    ELSE lower(first) || (1950 + floor(u4 * 55)::int) END AS base,
               CASE WHEN org IS NULL
                    THEN (ARRAY['gmail.com', 'gmail.com', 'gmail.com', 'outlook.com', 'hotmail.com',
                                'yahoo.com', 'icloud.com', 'gmx.de', 'web.de', 'orange.fr', 'proton.me',
                                'example.com'])[1 + floor(u5 * 12)::int]
                    ELSE orgdomain END AS domain
        FROM (
            SELECT u.*, n.*,
                   replace(replace(n.last, ' ', ''), 'ü', 'ue') AS elast,
                   CASE WHEN u.u6 < 0.40 THEN NULL ELSE o.name END AS org,
                   o.domain AS orgdomain,
                   to_timestamp(1609459200 + 141868800 * power((u.i - u.u7) / 100000.0, 0.7)) AS created_at
            FROM (
                SELECT i,
                       ('x' || substr(h1, 1, 7))::bit(28)::int / 268435456.0::float8 AS u1,
                       ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8 AS u2,
                       ('x' || substr(h1, 15, 7))::bit(28)::int / 268435456.0::float8 AS u3,
                       ('x' || substr(h1, 22, 7))::bit(28)::int / 268435456.0::float8 AS u4,
                       ('x' || substr(h2, 1, 7))::bit(28)::int / 268435456.0::float8 AS u5,
                       ('x' || substr(h2, 8, 7))::bit(28)::int / 268435456.0::float8 AS u6,
                       ('x' || substr(h2, 15, 7))::bit(28)::int / 268435456.0::float8 AS u7,
                       ('x' || substr(h2, 22, 7))::bit(28)::int / 268435456.0::float8 AS u8,
                       ('x' || substr(h3, 1, 7))::bit(28)::int / 268435456.0::float8 AS u9
                FROM generate_series(1, 100000) AS i,
                     LATERAL (SELECT md5('requester:a:' || i) AS h1, md5('requester:b:' || i) AS h2,
                                     md5('requester:c:' || i) AS h3) AS h
                OFFSET 0
            ) AS u
            CROSS JOIN LATERAL (SELECT
                (ARRAY['James', 'Mary', 'John', 'Patricia', 'Robert', 'Jennifer', 'Michael', 'Linda',
                       'Jane', 'Joseph', 'Sarah', 'Thomas', 'Karen', 'Chinedu', 'Ngozi', 'Amara',
                       'Hans', 'Petra', 'Jürgen', 'Sabine', 'Pierre', 'Sophie', 'Antoine', 'Claire',
                       'Javier', 'Carmen', 'Diego', 'Elena', 'Marco', 'Chiara', 'Piotr', 'Agnieszka',
                       'Lars', 'Ingrid', 'Sean', 'Aoife', 'Raj', 'Ananya', 'Wei', 'Hiroshi'])[1 + floor(power(u.u1, 1.2) * 40)::int] AS first,
                (ARRAY['Okafor', 'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Miller', 'Davis',
                       'Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Dupont', 'Durand',
                       'Leroy', 'Fontaine', 'Sanchez', 'Perez', 'Gomez', 'Diaz', 'Ricci', 'Marino',
                       'Greco', 'Wojcik', 'Kaminski', 'van den Berg', 'Mulder', 'Eriksson', 'Larsen',
                       'Ryan', 'OConnor', 'Sharma', 'Gupta', 'Zhang', 'Liu', 'Suzuki', 'Adeyemi',
                       'Mensah'])[1 + floor(u.u2 * 40)::int] AS last
            ) AS n
            JOIN (
                SELECT (a.k - 1) * 50 + (b.k - 1) AS k,
                       a.s || ' ' || b.s AS name,
                       replace(lower(a.s), ' ', '') || (ARRAY['.com', '.test', '.example', '.io', '.de', '.co.uk',
                                                             '.fr', '.nl'])[1 + a.k::int % 8] AS domain
                FROM unnest(ARRAY['Northwind', 'Contoso', 'Fabrikam', 'Globex', 'Initech', 'Umbrella',
                                  'Stark', 'Wayne', 'Acme', 'Tyrell', 'Cyberdyne', 'Soylent', 'Hooli',
                                  'Vandelay', 'Wonka', 'Aperture', 'Blue Sun', 'Massive', 'Gringotts',
                                  'Oceanic', 'Pied Piper', 'Sterling', 'Duff', 'Krusty', 'Monarch',
                                  'Oscorp', 'Prestige', 'Roxxon', 'Virtucon', 'Wernham', 'Zorg',
                                  'Nakatomi', 'Bluth', 'Dunder', 'Gekko', 'Kramerica', 'Lacuna',
                                  'Mooby', 'Nordlicht', 'Alpenrose', 'Solaris', 'Tessaro', 'Valora',
                                  'Brightwell', 'Coppervale', 'Ironbridge', 'Kestrel', 'Larkspur',
                                  'Meridian', 'Quillon']) WITH ORDINALITY AS a(s, k),
                     unnest(ARRAY['Traders', 'Logistics', 'Labs', 'GmbH', 'Holdings', 'Retail',
                                  'Health', 'Media', 'Bank', 'Foods', 'Energy', 'Consulting',
                                  'Software', 'Systems', 'Group', 'Partners', 'Studios', 'Motors',
                                  'Pharma', 'Insurance', 'Travel', 'Hotels', 'Telecom', 'Capital',
                                  'Education', 'Robotics', 'Analytics', 'Security', 'Design',
                                  'Construction', 'Fashion', 'Sports', 'Games', 'Publishing',
                                  'Agency', 'Clinic', 'Dental', 'Legal', 'Realty', 'Airlines',
                                  'Brewing', 'Coffee', 'Bakery', 'Farms', 'Outdoor', 'Cycles',
                                  'Optics', 'Audio', 'Textiles', 'Printing']) WITH ORDINALITY AS b(s, k)
            ) AS o ON o.k = floor(2500 * power(u.u8, 2))::int
        ) AS named
    ) AS r
) AS r2
ORDER BY i;

-- ---------------------------------------------------------------------------
-- Vocabulary of issue subjects: topic, subject template ({n} a number,
-- {x} a word from the topic's fill list) and the topic's most likely tag.
-- Ordered by frequency (n = 1 is the most common).
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE tmp_subject (n int PRIMARY KEY, topic text, tmpl text);
INSERT INTO tmp_subject VALUES
    ( 1, 'account',     'Can''t log in'),
    ( 2, 'billing',     'Question about my invoice'),
    ( 3, 'account',     'Password reset link not working'),
    ( 4, 'shipping',    'Where is my order #{n}?'),
    ( 5, 'bug',         'Error when saving {x}'),
    ( 6, 'howto',       'How do I {x}?'),
    ( 7, 'billing',     'Charged twice this month'),
    ( 8, 'billing',     'Refund request for order #{n}'),
    ( 9, 'integration', '{x} integration not syncing'),
    (10, 'bug',         'App crashes on {x}'),
    (11, 'admin',       'Add a new user to our account'),
    (12, 'shipping',    'Package arrived damaged'),
    (13, 'billing',     'Invoice {n} has the wrong VAT number'),
    (14, 'account',     'Two-factor code not arriving'),
    (15, 'feature',     'Feature request: {x}'),
    (16, 'billing',     'Cancel my subscription'),
    (17, 'alert',       '[Alert] {x} latency above threshold'),
    (18, 'bug',         'Page {x} shows error 500'),
    (19, 'shipping',    'Missing item in order #{n}'),
    (20, 'billing',     'Card declined when upgrading'),
    (21, 'howto',       'Export all {x} to CSV'),
    (22, 'admin',       'Change the owner of our workspace'),
    (23, 'billing',     'Where is my refund?'),
    (24, 'integration', 'Webhook deliveries failing'),
    (25, 'bug',         'Notifications not sent for {x}'),
    (26, 'account',     'Account locked after too many attempts'),
    (27, 'admin',       'SSO setup with {x}'),
    (28, 'shipping',    'Return label request'),
    (29, 'billing',     'Upgrade to the {x} plan'),
    (30, 'feature',     'Can you add {x}?'),
    (31, 'bug',         'Dashboard very slow since {x}'),
    (32, 'integration', 'API rate limit exceeded'),
    (33, 'privacy',     'Data deletion request (GDPR)'),
    (34, 'billing',     'Discount code not applied'),
    (35, 'admin',       'Update our company name on invoices'),
    (36, 'alert',       '[Form] Contact request from website'),
    (37, 'bug',         'Cannot upload files larger than {n} MB'),
    (38, 'howto',       'Where can I find {x}?'),
    (39, 'account',     'Change my email address'),
    (40, 'billing',     'Refund not received after {n} days'),
    (41, 'shipping',    'Delivery delayed again'),
    (42, 'privacy',     'Request a copy of my data'),
    (43, 'integration', 'OAuth token expired for {x}'),
    (44, 'admin',       'Contract renewal for next year'),
    (45, 'bug',         'Wrong translation in {x}'),
    (46, 'security',    'Suspicious login from unknown device'),
    (47, 'security',    'Report a phishing email'),
    (48, 'feature',     'Dark mode for {x}'),
    (49, 'admin',       'Storage limit reached'),
    (50, 'billing',     'Invoice address change'),
    (51, 'howto',       'Training session for new staff'),
    (52, 'shipping',    'Exchange for a different size'),
    (53, 'integration', '{x} import stuck at {n}%'),
    (54, 'bug',         'Sync stuck at {n}%'),
    (55, 'account',     'Delete my account'),
    (56, 'billing',     'Refund request: duplicate payment'),
    (57, 'security',    'Enable audit log for our team'),
    (58, 'alert',       '[Alert] {x} error rate above 5%'),
    (59, 'feature',     'Bulk edit for {x}'),
    (60, 'privacy',     'Question about the data processing agreement');

-- Per topic: words for {x}, tags, sentences for descriptions.
CREATE TEMP TABLE tmp_topic (topic text PRIMARY KEY, fills text[], tags text[], lines text[]);
INSERT INTO tmp_topic VALUES
    ('account', ARRAY['login'],
     ARRAY['login', 'password', '2fa', 'account'],
     ARRAY['I have tried to reset my password three times but the link says it has expired.',
           'The login page just reloads after I enter my credentials.',
           'I no longer have access to the phone I used for two-factor authentication.',
           'My colleague can log in without problems, only my account is affected.',
           'I did not receive the verification email, not even in the spam folder.',
           'Please unlock my account, I need it for a presentation today.']),
    ('billing', ARRAY['Pro', 'Business', 'Enterprise', 'Starter', 'annual'],
     ARRAY['billing', 'invoice', 'refund', 'payments'],
     ARRAY['My card was charged twice on the same day for the same amount.',
           'The invoice shows the wrong company address and VAT number.',
           'I cancelled before the renewal date but was still charged.',
           'Could you please send the invoice as a PDF to our accounts team?',
           'We were promised a refund two weeks ago and have not received it yet.',
           'The discount code from your newsletter was not applied at checkout.',
           'Our finance department needs a credit note for the last invoice.']),
    ('shipping', ARRAY['order'],
     ARRAY['shipping', 'returns', 'delivery'],
     ARRAY['The tracking page has not been updated for six days.',
           'The box was crushed and the item inside is broken.',
           'One of the three items I ordered was missing from the parcel.',
           'I would like to return the item and get a refund.',
           'The courier says the parcel was delivered but I never received it.',
           'Can I exchange it for a larger size instead?']),
    ('bug', ARRAY['the invoice page', 'reports', 'iOS 18', 'Android 14', 'the calendar', 'projects',
                  'the mobile app', 'the settings page', 'tasks', 'comments', 'the March update'],
     ARRAY['bug', 'mobile', 'ios', 'android', 'performance'],
     ARRAY['The app closes immediately after the splash screen.',
           'Saving fails with the message "Something went wrong, please try again".',
           'The page takes more than 30 seconds to load since the last update.',
           'This started after I updated to the latest version.',
           'Clearing the cache and reinstalling did not help.',
           'It happens in Chrome and Firefox, so it does not seem to be the browser.',
           'Here are the steps to reproduce it.']),
    ('howto', ARRAY['reports', 'invoices', 'contacts', 'my API key', 'the audit log',
                    'set up recurring tasks', 'share a dashboard', 'change the time zone',
                    'archive old projects', 'merge two contacts'],
     ARRAY['how-to', 'onboarding', 'documentation'],
     ARRAY['I could not find this in the help centre.',
           'Is there a step by step guide for this?',
           'We are new to the product and still setting things up.',
           'A short video or screenshot would help a lot.',
           'Our team of twelve needs this before Monday.']),
    ('integration', ARRAY['Slack', 'Salesforce', 'HubSpot', 'Shopify', 'Zapier', 'Google Calendar',
                          'Microsoft Teams', 'Jira', 'QuickBooks', 'Xero'],
     ARRAY['integration', 'api', 'webhook'],
     ARRAY['The webhook endpoint returns 200 but no events arrive.',
           'Our API calls started failing with 429 Too Many Requests.',
           'The sync has been stuck since yesterday evening.',
           'We rotated the API key and now the connection fails.',
           'New records are created twice in the other system.',
           'Please check the logs on your side for our workspace.']),
    ('admin', ARRAY['Okta', 'Azure AD', 'Google Workspace', 'OneLogin', 'Keycloak'],
     ARRAY['admin', 'sso', 'enterprise', 'account'],
     ARRAY['We need to transfer ownership because our admin has left the company.',
           'Please add five more seats to our subscription.',
           'The SAML assertion is rejected with an invalid audience error.',
           'We are renewing our contract and need an updated quote.',
           'Our legal name changed after the merger.']),
    ('feature', ARRAY['the mobile app', 'reports', 'the calendar view', 'tags', 'projects',
                      'custom fields', 'the API'],
     ARRAY['feature-request', 'feedback'],
     ARRAY['It would save our team hours every week.',
           'Your competitors already offer this.',
           'We would be happy to beta test it.',
           'Is this on your roadmap?']),
    ('alert', ARRAY['checkout-api', 'search', 'payments-gateway', 'web-frontend', 'auth-service'],
     ARRAY['alert', 'automated', 'monitoring'],
     ARRAY['Threshold exceeded for 5 consecutive minutes.',
           'This message was generated automatically.',
           'Source: website contact form.',
           'Severity: warning.']),
    ('privacy', ARRAY['data'],
     ARRAY['gdpr', 'privacy', 'legal'],
     ARRAY['Under article 17 of the GDPR I ask you to delete all my personal data.',
           'Please confirm in writing once the deletion is complete.',
           'Our DPO needs the list of your subprocessors.',
           'Please send me a copy of all data you hold about me.']),
    ('security', ARRAY['account'],
     ARRAY['security', 'phishing', 'account'],
     ARRAY['I received an email that looks like it came from you asking for my password.',
           'There was a login from a country I have never been to.',
           'We need audit logs for our compliance review.',
           'Please force a password reset for all users in our workspace.']);

-- Which agents work in each team (for assignees and event actors).
CREATE TEMP TABLE tmp_team_agents AS
SELECT team_id, array_agg(id ORDER BY id) AS ids,
       array_agg(id ORDER BY id) FILTER (WHERE active) AS active_ids
FROM agents GROUP BY team_id;

-- ---------------------------------------------------------------------------
-- issues: 120,000 opened 2023-07-01 .. 2025-06-30, mostly in office hours.
-- u1 .. u44 are the row's uniform numbers, each used for one decision.
-- ---------------------------------------------------------------------------
INSERT INTO issues (id, ref, requester_id, team_id, assignee_id, status, priority, channel,
                    subject, description, tags, custom, opened_at, first_response_at,
                    resolved_at, due_at)
OVERRIDING SYSTEM VALUE
SELECT i, 'HD-' || (100000 + i), requester_id, team_id, assignee_id, status, priority, channel,
       CASE WHEN channel = 'email' AND u23 < 0.12 THEN 'Re: ' || subject
            WHEN channel = 'email' AND u23 < 0.15 THEN 'Fwd: ' || subject
            ELSE subject END,
       CASE WHEN u14 < (CASE WHEN channel IN ('phone', 'chat') THEN 0.35 ELSE 0.05 END) THEN NULL
            ELSE concat_ws(' ',
                (ARRAY['Hello,', 'Hi,', 'Hi team,', 'Dear support,', 'Good morning,', 'Hallo,',
                       'Bonjour,', 'Hey there,', NULL, NULL])[1 + floor(u15 * 10)::int],
                lines[1 + floor(u16 * cardinality(lines))::int],
                CASE WHEN u17 < 0.7   -- another line of the topic
                     THEN lines[1 + (floor(u16 * cardinality(lines))::int + 1
                                     + floor(u18 * (cardinality(lines) - 1))::int) % cardinality(lines)] END,
                (ARRAY['Thanks in advance.', 'Thank you!', 'Kind regards', 'Best regards',
                       'Please help, this is urgent.', 'Cheers', 'Many thanks,', NULL,
                       'Sent from my iPhone', 'Regards'])[1 + floor(u19 * 10)::int])
       END,
       ARRAY(SELECT DISTINCT t
             FROM unnest((ARRAY[topic_tags[1 + floor(power(u13, 1.5) * cardinality(topic_tags))::int],
                                tagvocab[1 + floor(40 * power(u30, 1.6))::int],
                                tagvocab[1 + floor(40 * power(u31, 1.6))::int],
                                tagvocab[1 + floor(40 * power(u32, 1.6))::int],
                                tagvocab[1 + floor(40 * power(u33, 1.6))::int]])[1:ntags]) AS t
             ORDER BY t),
       CASE WHEN u34 < 0.12 THEN '{}'::jsonb
       ELSE jsonb_strip_nulls(jsonb_build_object(
           'plan', CASE WHEN u35 < 0.85 THEN plan END,
           'order_ref', CASE WHEN (topic IN ('billing', 'shipping') AND u36 < 0.80) OR u36 < 0.05
                             THEN 'PO-' || to_char(to_timestamp(opened_e) AT TIME ZONE 'UTC', 'YYYY')
                                  || '-' || lpad((1 + (i * 7919) % 99999)::text, 5, '0') END,
           'device_id', CASE WHEN topic = 'bug' AND u37 < 0.6
                             THEN 'DEV-' || upper(substr(md5('device:' || requester_id), 1, 10)) END,
           'contract', CASE WHEN plan = 'enterprise' AND u37 < 0.7
                            THEN 'ENT-' || (1000 + (requester_id * 37) % 9000) END,
           'app_version', CASE WHEN topic = 'bug' AND u38 < 0.8
                               THEN '5.' || floor(u39 * 12)::int || '.' || floor(u40 * 8)::int END,
           'browser', CASE WHEN channel = 'web' AND u38 < 0.5
                           THEN (ARRAY['Chrome', 'Chrome', 'Chrome', 'Safari', 'Firefox', 'Edge'])[1 + floor(u39 * 6)::int] END,
           'language', CASE WHEN u41 < 0.55
                            THEN (ARRAY['en', 'en', 'en', 'de', 'de', 'fr', 'es', 'it', 'nl', 'pl'])[1 + floor(u40 * 10)::int] END,
           'csat', CASE WHEN status IN ('resolved', 'closed') AND u42 < 0.25
                        THEN (ARRAY[1, 2, 3, 4, 4, 5, 5, 5, 5, 5])[1 + floor(u43 * 10)::int] END,
           'source_url', CASE WHEN channel = 'web' AND u44 < 0.3
                              THEN 'https://app.example.com/' || (ARRAY['settings', 'billing', 'reports', 'projects', 'dashboard'])[1 + floor(u43 * 5)::int] END))
       END,
       to_timestamp(opened_e),
       -- first response within a fraction of the SLA, a few much later; none yet for some open ones
       CASE WHEN status = 'spam' OR (status = 'open' AND u28 < 0.5) THEN NULL
            WHEN opened_e + response_s < 1751327999 THEN to_timestamp(opened_e + response_s) END,
       CASE WHEN status IN ('resolved', 'closed')
            THEN to_timestamp(opened_e + least(3600 * (0.5 + 900 * power(u27, 3)),
                                               (1751327999 - opened_e) * u27)) END,
       CASE WHEN sla_hours IS NOT NULL THEN to_timestamp(opened_e + sla_hours * 3600) END
FROM (
    SELECT b.*, sl.sla_hours,
           coalesce(sla_hours, 24) * 3600 * (0.02 + 1.6 * power(u26, 2.5)) AS response_s,
           CASE WHEN b.team_id IS NULL OR b.status = 'spam' OR u21 < 0.02 THEN NULL
                WHEN b.status = 'open' AND u21 < 0.30 THEN NULL
                ELSE coalesce(ta.active_ids[1 + floor(power(u22, 1.3) * cardinality(ta.active_ids))::int],
                              ta.ids[1]) END AS assignee_id,
           replace(replace(s.tmpl, '{x}', tp.fills[1 + floor(u12 * cardinality(tp.fills))::int]),
                   '{n}', (CASE WHEN s.tmpl LIKE '%#{n}%' THEN 100000 + floor(u11 * 900000)
                                WHEN s.tmpl LIKE 'Invoice {n}%' THEN 2023000 + floor(u11 * 3000)
                                ELSE 2 + floor(u11 * 97) END)::int::text) AS subject,
           tp.topic, tp.tags AS topic_tags, tp.lines,
           CASE WHEN u29 < 0.30 THEN 0 WHEN u29 < 0.60 THEN 1 WHEN u29 < 0.82 THEN 2
                WHEN u29 < 0.94 THEN 3 WHEN u29 < 0.98 THEN 4 ELSE 5 END AS ntags,
           ARRAY['billing', 'vip', 'bug', 'feature-request', 'login', 'mobile', 'ios', 'android',
                 'api', 'integration', 'sla', 'escalated', 'churn-risk', 'enterprise', 'trial',
                 'invoice', 'shipping', 'returns', 'password', '2fa', 'sso', 'performance',
                 'outage', 'data-export', 'gdpr', 'onboarding', 'how-to', 'duplicate', 'feedback',
                 'urgent', 'follow-up', 'macro-used', 'csat-low', 'beta', 'webhook', 'payments',
                 'chargeback', 'account', 'security', 'refund'] AS tagvocab
    FROM (
        SELECT a.*,
               -- requesters who had signed up by then: integrations, new ones, regulars
               CASE WHEN u4 < 0.08 THEN 1 + floor(6 * power(u5, 1.5))::int
                    WHEN u4 < 0.33 THEN greatest(7, rmax - floor(u5 * 0.01 * rmax)::int)
                    ELSE greatest(7, 7 + floor((rmax - 7) * power(u5, 1.5))::int) END AS requester_id,
               CASE WHEN status = 'open' AND u6 < 0.12 THEN NULL
                    WHEN u6 < 0.01 THEN NULL
                    ELSE 1 + floor(24 * power(u7, 1.4))::int END AS team_id,
               CASE WHEN u8 < 0.05 THEN 1 WHEN u8 < 0.20 THEN 2 WHEN u8 < 0.80 THEN 3 ELSE 4 END
                   AS priority,
               CASE WHEN u4 < 0.08 THEN (ARRAY['api', 'email'])[1 + floor(u20 * 2)::int]
                    WHEN u20 < 0.45 THEN 'email' WHEN u20 < 0.70 THEN 'web' WHEN u20 < 0.84 THEN 'chat'
                    WHEN u20 < 0.90 THEN 'phone' WHEN u20 < 0.96 THEN 'api' ELSE 'social' END AS channel,
               CASE WHEN u4 < 0.08 THEN 'enterprise'
                    WHEN u24 < 0.30 THEN 'free' WHEN u24 < 0.58 THEN 'starter'
                    WHEN u24 < 0.86 THEN 'pro' ELSE 'enterprise' END AS plan
        FROM (
            SELECT u.*,
                   least(100000, floor(100000 * power(greatest(0, opened_e - 1609459200) / 141868800,
                                                      1 / 0.7))::int) AS rmax,
                   -- issues of the last two weeks are still being worked on
                   CASE WHEN opened_e >= 1750118400
                        THEN CASE WHEN u9 < 0.40 THEN 'open' WHEN u9 < 0.62 THEN 'pending'
                                  WHEN u9 < 0.66 THEN 'on_hold' WHEN u9 < 0.92 THEN 'resolved'
                                  WHEN u9 < 0.97 THEN 'closed' ELSE 'spam' END
                        ELSE CASE WHEN u9 < 0.010 THEN 'open' WHEN u9 < 0.018 THEN 'pending'
                                  WHEN u9 < 0.023 THEN 'on_hold' WHEN u9 < 0.07 THEN 'resolved'
                                  WHEN u9 < 0.975 THEN 'closed' ELSE 'spam' END END AS status
            FROM (
                SELECT u0.*,
                       1688169600 + 86400 * floor(731 * power((i - u1) / 120000.0, 0.85))
                       + CASE WHEN u2 < 0.3 THEN 86400 * u3 ELSE 25200 + 39600 * u3 END AS opened_e
                FROM (
                    SELECT i,
                           ('x' || substr(h1, 1, 7))::bit(28)::int / 268435456.0::float8 AS u1,
                           ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8 AS u2,
                           ('x' || substr(h1, 15, 7))::bit(28)::int / 268435456.0::float8 AS u3,
                           ('x' || substr(h1, 22, 7))::bit(28)::int / 268435456.0::float8 AS u4,
                           ('x' || substr(h2, 1, 7))::bit(28)::int / 268435456.0::float8 AS u5,
                           ('x' || substr(h2, 8, 7))::bit(28)::int / 268435456.0::float8 AS u6,
                           ('x' || substr(h2, 15, 7))::bit(28)::int / 268435456.0::float8 AS u7,
                           ('x' || substr(h2, 22, 7))::bit(28)::int / 268435456.0::float8 AS u8,
                           ('x' || substr(h3, 1, 7))::bit(28)::int / 268435456.0::float8 AS u9,
                           ('x' || substr(h3, 8, 7))::bit(28)::int / 268435456.0::float8 AS u10,
                           ('x' || substr(h3, 15, 7))::bit(28)::int / 268435456.0::float8 AS u11,
                           ('x' || substr(h3, 22, 7))::bit(28)::int / 268435456.0::float8 AS u12,
                           ('x' || substr(h4, 1, 7))::bit(28)::int / 268435456.0::float8 AS u13,
                           ('x' || substr(h4, 8, 7))::bit(28)::int / 268435456.0::float8 AS u14,
                           ('x' || substr(h4, 15, 7))::bit(28)::int / 268435456.0::float8 AS u15,
                           ('x' || substr(h4, 22, 7))::bit(28)::int / 268435456.0::float8 AS u16,
                           ('x' || substr(h5, 1, 7))::bit(28)::int / 268435456.0::float8 AS u17,
                           ('x' || substr(h5, 8, 7))::bit(28)::int / 268435456.0::float8 AS u18,
                           ('x' || substr(h5, 15, 7))::bit(28)::int / 268435456.0::float8 AS u19,
                           ('x' || substr(h5, 22, 7))::bit(28)::int / 268435456.0::float8 AS u20,
                           ('x' || substr(h6, 1, 7))::bit(28)::int / 268435456.0::float8 AS u21,
                           ('x' || substr(h6, 8, 7))::bit(28)::int / 268435456.0::float8 AS u22,
                           ('x' || substr(h6, 15, 7))::bit(28)::int / 268435456.0::float8 AS u23,
                           ('x' || substr(h6, 22, 7))::bit(28)::int / 268435456.0::float8 AS u24,
                           ('x' || substr(h7, 1, 7))::bit(28)::int / 268435456.0::float8 AS u25,
                           ('x' || substr(h7, 8, 7))::bit(28)::int / 268435456.0::float8 AS u26,
                           ('x' || substr(h7, 15, 7))::bit(28)::int / 268435456.0::float8 AS u27,
                           ('x' || substr(h7, 22, 7))::bit(28)::int / 268435456.0::float8 AS u28,
                           ('x' || substr(h8, 1, 7))::bit(28)::int / 268435456.0::float8 AS u29,
                           ('x' || substr(h8, 8, 7))::bit(28)::int / 268435456.0::float8 AS u30,
                           ('x' || substr(h8, 15, 7))::bit(28)::int / 268435456.0::float8 AS u31,
                           ('x' || substr(h8, 22, 7))::bit(28)::int / 268435456.0::float8 AS u32,
                           ('x' || substr(h9, 1, 7))::bit(28)::int / 268435456.0::float8 AS u33,
                           ('x' || substr(h9, 8, 7))::bit(28)::int / 268435456.0::float8 AS u34,
                           ('x' || substr(h9, 15, 7))::bit(28)::int / 268435456.0::float8 AS u35,
                           ('x' || substr(h9, 22, 7))::bit(28)::int / 268435456.0::float8 AS u36,
                           ('x' || substr(h10, 1, 7))::bit(28)::int / 268435456.0::float8 AS u37,
                           ('x' || substr(h10, 8, 7))::bit(28)::int / 268435456.0::float8 AS u38,
                           ('x' || substr(h10, 15, 7))::bit(28)::int / 268435456.0::float8 AS u39,
                           ('x' || substr(h10, 22, 7))::bit(28)::int / 268435456.0::float8 AS u40,
                           ('x' || substr(h11, 1, 7))::bit(28)::int / 268435456.0::float8 AS u41,
                           ('x' || substr(h11, 8, 7))::bit(28)::int / 268435456.0::float8 AS u42,
                           ('x' || substr(h11, 15, 7))::bit(28)::int / 268435456.0::float8 AS u43,
                           ('x' || substr(h11, 22, 7))::bit(28)::int / 268435456.0::float8 AS u44
                    FROM generate_series(1, 120000) AS i,
                         LATERAL (SELECT md5('issue:a:' || i) AS h1, md5('issue:b:' || i) AS h2,
                                         md5('issue:c:' || i) AS h3, md5('issue:d:' || i) AS h4,
                                         md5('issue:e:' || i) AS h5, md5('issue:f:' || i) AS h6,
                                         md5('issue:g:' || i) AS h7, md5('issue:h:' || i) AS h8,
                                         md5('issue:i:' || i) AS h9, md5('issue:j:' || i) AS h10,
                                         md5('issue:k:' || i) AS h11) AS h
                    OFFSET 0
                ) AS u0
            ) AS u
        ) AS a
    ) AS b
    -- integrations send alerts and web forms; people the other subjects
    JOIN tmp_subject AS s
      ON s.n = CASE WHEN b.requester_id <= 6 THEN (ARRAY[17, 17, 36, 58])[1 + floor(b.u10 * 4)::int]
                    WHEN 1 + floor(60 * power(b.u10, 1.6))::int IN (17, 36, 58)
                    THEN 2 + floor(60 * power(b.u10, 1.6))::int
                    ELSE 1 + floor(60 * power(b.u10, 1.6))::int END
    JOIN tmp_topic AS tp ON tp.topic = s.topic
    LEFT JOIN tmp_team_agents AS ta ON ta.team_id = b.team_id
    CROSS JOIN LATERAL (SELECT CASE WHEN b.plan = 'free' OR b.u25 < 0.10 THEN NULL
                                    ELSE (ARRAY[4, 8, 24, 72])[b.priority] END AS sla_hours) AS sl
) AS y
ORDER BY i;

-- ---------------------------------------------------------------------------
-- issue_comments: ~250,000; replies alternate between agents and the
-- requester, ~15% of agent comments are internal notes, a few automated
-- ---------------------------------------------------------------------------
INSERT INTO issue_comments (id, issue_id, author_agent_id, author_requester_id, public, body,
                            created_at)
OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY created_e, issue_id, k),
       issue_id,
       CASE WHEN kind = 'agent' THEN agent_id END,
       CASE WHEN kind = 'requester' THEN requester_id END,
       NOT (kind = 'agent' AND v3 < 0.15),
       CASE kind
           WHEN 'auto' THEN (ARRAY['Automatic reminder: we are waiting for your reply.',
                                   'This ticket will be closed automatically in 3 days.',
                                   'Your satisfaction survey is ready.',
                                   'Merged from a duplicate ticket.'])[1 + floor(v4 * 4)::int]
           WHEN 'agent' THEN concat_ws(' ',
               (ARRAY['Hi,', 'Hello,', 'Hi there,', 'Thanks for reaching out.', 'Thank you for your patience.',
                      NULL, NULL])[1 + floor(v4 * 7)::int],
               CASE WHEN v3 < 0.15
               THEN (ARRAY['Internal: customer is on the enterprise plan, handle with priority.',
                           'Internal: same issue as the one reported by another customer last week.',
                           'Internal: waiting for engineering, see the linked bug.',
                           'Internal: refund approved by the team lead.',
                           'Internal: please take over, I am out tomorrow.',
                           'Internal: checked the logs, the webhook endpoint returns 500.'])[1 + floor(v5 * 6)::int]
               ELSE (ARRAY['I have reset your password, please check your inbox for the reset link.',
                      'I have issued a refund, it should appear on your statement within 5 to 10 business days.',
                      'I have attached a corrected invoice.',
                      'Could you send us a screenshot of the error message?',
                      'Our engineers are looking into this and I will update you as soon as I hear back.',
                      'This was caused by a known issue that was fixed in the latest release.',
                      'Please clear your browser cache and try again.',
                      'I have escalated this to our second-level team.',
                      'The parcel is on its way, here is the new tracking number.',
                      'I have added the seats to your subscription.',
                      'You can find the steps in our help centre article.',
                      'Could you confirm the email address on the account?',
                      'The webhook is now delivering events again.',
                      'I have removed the duplicate charge.',
                      'We have received your deletion request and will complete it within 30 days.',
                      'Is there anything else I can help you with?'])[1 + floor(v5 * 16)::int] END,
               (ARRAY['Best regards', 'Kind regards', 'Cheers', 'Have a great day!', NULL])[1 + floor(v6 * 5)::int])
           ELSE concat_ws(' ',
               (ARRAY['Thanks!', 'Thank you for the quick reply.', 'Hi,', 'Hello again,', NULL])[1 + floor(v4 * 5)::int],
               (ARRAY['It works now, you can close the ticket.',
                      'I still cannot log in.',
                      'I still have not received the refund.',
                      'Here is the screenshot you asked for.',
                      'The problem is back since this morning.',
                      'Any update on this?',
                      'The invoice still shows the old address.',
                      'That fixed it, thanks a lot.',
                      'I tried that but it did not help.',
                      'When can I expect an answer?',
                      'The parcel arrived today.',
                      'Yes, the email address is correct.'])[1 + floor(v5 * 12)::int],
               (ARRAY['Regards', 'Thanks', NULL, NULL, 'Sent from my iPhone'])[1 + floor(v6 * 5)::int])
       END,
       to_timestamp(created_e)
FROM (
    SELECT c.*,
           -- agent comments come from the assignee, or another agent of the team
           coalesce(CASE WHEN v7 < 0.85 THEN assignee_id END,
                    ta.ids[1 + floor(v7 * cardinality(ta.ids))::int], assignee_id, 1 + floor(v7 * 400)::int)
               AS agent_id
    FROM (
        SELECT i.id AS issue_id, i.requester_id, i.assignee_id, i.team_id, k,
               CASE WHEN v1 < 0.03 THEN 'auto' WHEN k % 2 = 1 THEN 'agent' ELSE 'requester' END AS kind,
               -- spread over the issue's life, in order
               start_e + (end_e - start_e) * (k - 1 + v2) / n AS created_e,
               v3, v4, v5, v6, v7
        FROM (
            SELECT id, requester_id, assignee_id, team_id,
                   coalesce(extract(epoch FROM first_response_at), extract(epoch FROM opened_at) + 600)::float8
                       AS start_e,
                   least(1751327999,
                         coalesce(extract(epoch FROM resolved_at), extract(epoch FROM opened_at) + 20 * 86400)::float8)
                       AS end_e,
                   CASE WHEN status = 'spam' THEN 0
                        WHEN status IN ('resolved', 'closed')
                             THEN 1 + floor(5.5 * power(('x' || substr(md5('ncomments:' || id), 1, 7))::bit(28)::int
                                                      / 268435456.0::float8, 1.8))::int
                        ELSE floor(4 * ('x' || substr(md5('ncomments:' || id), 1, 7))::bit(28)::int
                                   / 268435456.0::float8)::int END AS n
            FROM issues
        ) AS i,
        generate_series(1, i.n) AS k,
        LATERAL (SELECT ('x' || substr(h1, 1, 7))::bit(28)::int / 268435456.0::float8 AS v1,
                        ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8 AS v2,
                        ('x' || substr(h1, 15, 7))::bit(28)::int / 268435456.0::float8 AS v3,
                        ('x' || substr(h1, 22, 7))::bit(28)::int / 268435456.0::float8 AS v4,
                        ('x' || substr(h2, 1, 7))::bit(28)::int / 268435456.0::float8 AS v5,
                        ('x' || substr(h2, 8, 7))::bit(28)::int / 268435456.0::float8 AS v6,
                        ('x' || substr(h2, 15, 7))::bit(28)::int / 268435456.0::float8 AS v7
                 FROM (SELECT md5('comment:a:' || i.id || ':' || k) AS h1,
                              md5('comment:b:' || i.id || ':' || k) AS h2) AS h
                 OFFSET 0) AS r
        WHERE i.end_e > i.start_e
    ) AS c
    LEFT JOIN tmp_team_agents AS ta ON ta.team_id = c.team_id
) AS c2
ORDER BY 1;

-- ---------------------------------------------------------------------------
-- issue_events: ~300,000; 'created' for every issue, 'assigned' for assigned
-- ones, then views, status changes, tags, escalations, ... over its life
-- ---------------------------------------------------------------------------
INSERT INTO issue_events (id, issue_id, kind, actor_agent_id, payload, happened_at)
OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY happened_e, issue_id, k),
       issue_id, kind,
       CASE WHEN kind IN ('created', 'sla_breached', 'merged') THEN NULL
            WHEN kind = 'reopened' AND v3 < 0.7 THEN NULL
            WHEN kind IN ('assigned', 'escalated') AND v3 < 0.5 THEN coalesce(lead_id, assignee_id)
            WHEN assignee_id IS NOT NULL AND v3 < 0.75 THEN assignee_id
            ELSE coalesce(team_ids[1 + floor(v4 * cardinality(team_ids))::int], 1 + floor(v4 * 400)::int) END,
       CASE kind
           WHEN 'created' THEN jsonb_build_object('channel', channel, 'priority', priority)
           WHEN 'assigned' THEN jsonb_build_object('assignee_id', assignee_id, 'team_id', team_id)
           WHEN 'status_changed' THEN jsonb_build_object(
               'from', (ARRAY['open', 'open', 'open', 'pending', 'pending', 'on_hold'])[1 + floor(v5 * 6)::int],
               'to', (ARRAY['pending', 'pending', 'resolved', 'resolved', 'closed', 'open'])[1 + floor(v6 * 6)::int])
           WHEN 'priority_changed' THEN jsonb_build_object('from', 3, 'to', 1 + floor(v5 * 4)::int)
           WHEN 'tagged' THEN jsonb_build_object('tag', coalesce(tags[1 + floor(v5 * cardinality(tags))::int], 'follow-up'))
           WHEN 'escalated' THEN jsonb_build_object('to_team', (ARRAY[12, 17, 19, 9])[1 + floor(v5 * 4)::int],
                                                    'reason', (ARRAY['sla', 'customer request', 'vip', 'bug'])[1 + floor(v6 * 4)::int])
           WHEN 'sla_breached' THEN jsonb_build_object('sla', (ARRAY['first_response', 'resolution'])[1 + floor(v5 * 2)::int])
           WHEN 'merged' THEN jsonb_build_object('into', 'HD-' || (100000 + greatest(1, issue_id - 1 - floor(v5 * 50)::int)))
       END,
       to_timestamp(happened_e) AT TIME ZONE 'UTC'
FROM (
    SELECT e.*,
           CASE WHEN k = 1 THEN 'created'
                WHEN k = 2 AND assignee_id IS NOT NULL THEN 'assigned'
                WHEN v1 < 0.46 THEN 'viewed' WHEN v1 < 0.76 THEN 'status_changed'
                WHEN v1 < 0.82 THEN 'priority_changed' WHEN v1 < 0.92 THEN 'tagged'
                WHEN v1 < 0.95 THEN 'escalated' WHEN v1 < 0.98 THEN 'sla_breached'
                WHEN v1 < 0.995 THEN 'reopened' ELSE 'merged' END AS kind,
           CASE WHEN k = 1 THEN opened_e
                ELSE opened_e + (end_e - opened_e) * (k - 2 + v2) / (n - 1) END AS happened_e
    FROM (
        SELECT i.*, k, v1, v2, v3, v4, v5, v6
        FROM (
            SELECT iss.id AS issue_id, iss.assignee_id, iss.team_id, iss.channel, iss.priority, iss.tags,
                   ta.ids AS team_ids, ta.ids[1] AS lead_id,
                   extract(epoch FROM iss.opened_at)::float8 AS opened_e,
                   least(1751327999,
                         coalesce(extract(epoch FROM iss.resolved_at) + 7 * 86400,
                                  extract(epoch FROM iss.opened_at) + 30 * 86400)::float8)
                       AS end_e,
                   1 + (iss.assignee_id IS NOT NULL)::int
                   + CASE WHEN iss.status = 'spam' THEN 0
                          ELSE floor(2.6 * power(('x' || substr(md5('nevents:' || iss.id), 1, 7))::bit(28)::int
                                                 / 268435456.0::float8, 1.2))::int END AS n
            FROM issues AS iss
            LEFT JOIN tmp_team_agents AS ta ON ta.team_id = iss.team_id
        ) AS i,
        generate_series(1, i.n) AS k,
        LATERAL (SELECT ('x' || substr(h1, 1, 7))::bit(28)::int / 268435456.0::float8 AS v1,
                        ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8 AS v2,
                        ('x' || substr(h1, 15, 7))::bit(28)::int / 268435456.0::float8 AS v3,
                        ('x' || substr(h1, 22, 7))::bit(28)::int / 268435456.0::float8 AS v4,
                        ('x' || substr(h2, 1, 7))::bit(28)::int / 268435456.0::float8 AS v5,
                        ('x' || substr(h2, 8, 7))::bit(28)::int / 268435456.0::float8 AS v6
                 FROM (SELECT md5('event:a:' || i.issue_id || ':' || k) AS h1,
                              md5('event:b:' || i.issue_id || ':' || k) AS h2) AS h
                 OFFSET 0) AS r
    ) AS e
) AS e2
ORDER BY 1;

-- ---------------------------------------------------------------------------
-- help_articles: 1,200 in four locales; 85% published
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE tmp_article_text (locale text PRIMARY KEY, topics text[], variants text[],
                                    intro text, lines text[]);
INSERT INTO tmp_article_text VALUES
    ('en',
     ARRAY['How to reset your password', 'Setting up two-factor authentication',
           'Understanding your invoice', 'Requesting a refund', 'Changing your billing address',
           'Exporting data to CSV', 'Connecting Slack', 'Configuring single sign-on with Okta',
           'Adding and removing users', 'Cancelling your subscription', 'Updating payment methods',
           'Tracking your order', 'Returning an item', 'Using the mobile app offline',
           'Managing notification settings', 'Creating your first project', 'Importing contacts',
           'Setting up webhooks', 'API rate limits explained', 'Deleting your account',
           'Changing the account owner', 'Troubleshooting login problems', 'Working with tags',
           'Keyboard shortcuts', 'Recovering deleted items', 'Sharing dashboards',
           'Scheduling reports', 'Time zones and date formats', 'Storage limits and quotas',
           'Our data processing agreement', 'Plans and pricing', 'Applying discount codes',
           'Downloading past invoices', 'VAT and tax exemption', 'Browser requirements',
           'Integrating with Salesforce', 'Integrating with Shopify', 'Audit logs',
           'Security best practices', 'Reporting a phishing email', 'Accessibility features',
           'Customising your workspace', 'Automations and rules', 'Custom fields',
           'Bulk editing records', 'Migrating from another tool', 'Service status and incidents',
           'Contacting support', 'Release notes', 'Getting started guide'],
     ARRAY['', ' (mobile app)', ' for administrators', ' on iOS', ' on Android', ' in the web app',
           ': troubleshooting', ': frequently asked questions', ' (legacy plans)', ' step by step'],
     'This article explains',
     ARRAY['Go to Settings and select Security.', 'Click Reset password and follow the link we email you.',
           'The reset link is valid for 24 hours.', 'Only account owners and admins can change this setting.',
           'Changes apply to all members of your workspace.', 'Invoices are available under Billing > History.',
           'Refunds are paid back to the original payment method within 5 to 10 business days.',
           'If you use single sign-on, your identity provider manages your password.',
           'Two-factor authentication adds a second step when you sign in.',
           'You can export up to 100,000 rows at a time.', 'Webhooks retry failed deliveries for 24 hours.',
           'The API allows 600 requests per minute per workspace.',
           'Deleted items stay in the trash for 30 days.', 'Open the mobile app and tap your profile picture.',
           'Contact our support team if the problem persists.', 'This feature is available on Pro and Enterprise plans.',
           'Tip: use keyboard shortcuts to work faster.', 'Make sure pop-ups are allowed for our domain.',
           'Your browser must have cookies enabled.', 'Note: this cannot be undone.']),
    ('de',
     ARRAY['Passwort zurücksetzen', 'Zwei-Faktor-Authentifizierung einrichten', 'Ihre Rechnung verstehen',
           'Eine Rückerstattung beantragen', 'Rechnungsadresse ändern', 'Daten als CSV exportieren',
           'Slack verbinden', 'Single Sign-on mit Okta einrichten', 'Benutzer hinzufügen und entfernen',
           'Abonnement kündigen', 'Zahlungsmethoden aktualisieren', 'Bestellung verfolgen',
           'Artikel zurücksenden', 'Die mobile App offline nutzen', 'Benachrichtigungen verwalten',
           'Das erste Projekt anlegen', 'Kontakte importieren', 'Webhooks einrichten',
           'Konto löschen', 'Kontoinhaber ändern', 'Probleme bei der Anmeldung beheben',
           'Mit Tags arbeiten', 'Gelöschte Elemente wiederherstellen', 'Dashboards teilen',
           'Tarife und Preise'],
     ARRAY['', ' (mobile App)', ' für Administratoren', ' unter iOS', ' unter Android', ' in der Web-App',
           ': Fehlerbehebung', ': häufige Fragen', ' (alte Tarife)', ' Schritt für Schritt'],
     'Dieser Artikel erklärt:',
     ARRAY['Öffnen Sie die Einstellungen und wählen Sie Sicherheit.',
           'Klicken Sie auf Passwort zurücksetzen und folgen Sie dem Link in der E-Mail.',
           'Der Link ist 24 Stunden gültig.', 'Nur Kontoinhaber und Administratoren können diese Einstellung ändern.',
           'Rechnungen finden Sie unter Abrechnung > Verlauf.',
           'Rückerstattungen erfolgen innerhalb von 5 bis 10 Werktagen auf das ursprüngliche Zahlungsmittel.',
           'Gelöschte Elemente bleiben 30 Tage im Papierkorb.',
           'Wenden Sie sich an unseren Support, wenn das Problem weiterhin besteht.',
           'Diese Funktion ist in den Tarifen Pro und Enterprise verfügbar.',
           'Hinweis: Dies kann nicht rückgängig gemacht werden.']),
    ('fr',
     ARRAY['Réinitialiser votre mot de passe', 'Configurer l''authentification à deux facteurs',
           'Comprendre votre facture', 'Demander un remboursement', 'Modifier votre adresse de facturation',
           'Exporter des données en CSV', 'Connecter Slack', 'Configurer l''authentification unique avec Okta',
           'Ajouter et supprimer des utilisateurs', 'Résilier votre abonnement',
           'Mettre à jour vos moyens de paiement', 'Suivre votre commande', 'Retourner un article',
           'Utiliser l''application mobile hors ligne', 'Gérer les notifications',
           'Créer votre premier projet', 'Importer des contacts', 'Configurer les webhooks',
           'Supprimer votre compte', 'Changer le propriétaire du compte',
           'Résoudre les problèmes de connexion', 'Utiliser les étiquettes',
           'Récupérer des éléments supprimés', 'Partager des tableaux de bord', 'Offres et tarifs'],
     ARRAY['', ' (application mobile)', ' pour les administrateurs', ' sur iOS', ' sur Android',
           ' dans l''application web', ' : dépannage', ' : questions fréquentes', ' (anciennes offres)',
           ' étape par étape'],
     'Cet article explique :',
     ARRAY['Ouvrez les paramètres et sélectionnez Sécurité.',
           'Cliquez sur Réinitialiser le mot de passe et suivez le lien reçu par e-mail.',
           'Le lien est valable 24 heures.', 'Seuls les propriétaires et les administrateurs peuvent modifier ce paramètre.',
           'Vos factures sont disponibles dans Facturation > Historique.',
           'Les remboursements sont versés sur le moyen de paiement d''origine sous 5 à 10 jours ouvrés.',
           'Les éléments supprimés restent 30 jours dans la corbeille.',
           'Contactez notre support si le problème persiste.',
           'Cette fonctionnalité est disponible avec les offres Pro et Enterprise.',
           'Remarque : cette action est irréversible.']),
    ('es',
     ARRAY['Restablecer tu contraseña', 'Configurar la autenticación en dos pasos', 'Entender tu factura',
           'Solicitar un reembolso', 'Cambiar tu dirección de facturación', 'Exportar datos a CSV',
           'Conectar Slack', 'Configurar el inicio de sesión único con Okta',
           'Añadir y eliminar usuarios', 'Cancelar tu suscripción', 'Actualizar los métodos de pago',
           'Seguir tu pedido', 'Devolver un artículo', 'Usar la aplicación móvil sin conexión',
           'Gestionar las notificaciones', 'Crear tu primer proyecto', 'Importar contactos',
           'Configurar webhooks', 'Eliminar tu cuenta', 'Cambiar el propietario de la cuenta',
           'Solucionar problemas de inicio de sesión', 'Trabajar con etiquetas',
           'Recuperar elementos eliminados', 'Compartir paneles', 'Planes y precios'],
     ARRAY['', ' (aplicación móvil)', ' para administradores', ' en iOS', ' en Android',
           ' en la aplicación web', ': solución de problemas', ': preguntas frecuentes'],
     'Este artículo explica:',
     ARRAY['Abre la configuración y selecciona Seguridad.',
           'Haz clic en Restablecer contraseña y sigue el enlace que te enviamos por correo.',
           'El enlace es válido durante 24 horas.', 'Solo los propietarios y administradores pueden cambiar esta opción.',
           'Las facturas están disponibles en Facturación > Historial.',
           'Los reembolsos se abonan en el método de pago original en un plazo de 5 a 10 días hábiles.',
           'Los elementos eliminados permanecen 30 días en la papelera.',
           'Ponte en contacto con soporte si el problema continúa.',
           'Esta función está disponible en los planes Pro y Enterprise.',
           'Nota: esta acción no se puede deshacer.']);

INSERT INTO help_articles (id, slug, locale, title, body, published, updated_at)
SELECT id,
       id || '-' || trim(BOTH '-' FROM regexp_replace(translate(lower(title), 'àâäáéèêëíîïóôöúùûüñçß',
                                                                'aaaaeeeeiiiooouuuuncs'),
                                                      '[^a-z0-9]+', '-', 'g')),
       locale, title,
       concat_ws(' ', t.intro || ' '
                      || CASE WHEN locale = 'de' THEN title ELSE lower(left(title, 1)) || substr(title, 2) END
                      || '.',
                 -- three to six different lines, from a random start in the list
                 t.lines[1 + (floor(v1 * cardinality(t.lines))::int + 0) % cardinality(t.lines)],
                 t.lines[1 + (floor(v1 * cardinality(t.lines))::int + 1 + floor(v2 * 3)::int) % cardinality(t.lines)],
                 t.lines[1 + (floor(v1 * cardinality(t.lines))::int + 4 + floor(v3 * 2)::int) % cardinality(t.lines)],
                 CASE WHEN v4 < 0.7 THEN t.lines[1 + (floor(v1 * cardinality(t.lines))::int + 6) % cardinality(t.lines)] END,
                 CASE WHEN v4 < 0.4 THEN t.lines[1 + (floor(v1 * cardinality(t.lines))::int + 7 + floor(v5 * 2)::int) % cardinality(t.lines)] END,
                 CASE WHEN v4 < 0.2 THEN t.lines[1 + (floor(v1 * cardinality(t.lines))::int + 9 + floor(v6 * (cardinality(t.lines) - 9))::int) % cardinality(t.lines)] END),
       v8 >= 0.15,
       to_timestamp(1577836800 + 173491199 * power(v9, 0.5))
FROM (
    SELECT a.*, t.topics[1 + a.j % cardinality(t.topics)]
                || t.variants[1 + a.j / cardinality(t.topics)] AS title
    FROM (
        SELECT id, locale, j,
               ('x' || substr(h1, 1, 7))::bit(28)::int / 268435456.0::float8 AS v1,
               ('x' || substr(h1, 8, 7))::bit(28)::int / 268435456.0::float8 AS v2,
               ('x' || substr(h1, 15, 7))::bit(28)::int / 268435456.0::float8 AS v3,
               ('x' || substr(h1, 22, 7))::bit(28)::int / 268435456.0::float8 AS v4,
               ('x' || substr(h2, 1, 7))::bit(28)::int / 268435456.0::float8 AS v5,
               ('x' || substr(h2, 8, 7))::bit(28)::int / 268435456.0::float8 AS v6,
               ('x' || substr(h2, 15, 7))::bit(28)::int / 268435456.0::float8 AS v7,
               ('x' || substr(h2, 22, 7))::bit(28)::int / 268435456.0::float8 AS v8,
               ('x' || substr(h3, 1, 7))::bit(28)::int / 268435456.0::float8 AS v9
        FROM (SELECT id,
                     CASE WHEN id <= 500 THEN 'en' WHEN id <= 750 THEN 'de' WHEN id <= 1000 THEN 'fr'
                          ELSE 'es' END AS locale,
                     CASE WHEN id <= 500 THEN id - 1 WHEN id <= 750 THEN id - 501
                          WHEN id <= 1000 THEN id - 751 ELSE id - 1001 END AS j
              FROM generate_series(1, 1200) AS id) AS s,
             LATERAL (SELECT md5('article:a:' || id) AS h1, md5('article:b:' || id) AS h2,
                             md5('article:c:' || id) AS h3) AS h
        OFFSET 0
    ) AS a
    JOIN tmp_article_text AS t USING (locale)
) AS a2
JOIN tmp_article_text AS t USING (locale)
ORDER BY id;

-- ---------------------------------------------------------------------------
-- Identity sequences continue after the explicit ids; drop the helpers.
-- ---------------------------------------------------------------------------
SELECT setval(pg_get_serial_sequence('requesters', 'id'), (SELECT max(id) FROM requesters)),
       setval(pg_get_serial_sequence('issues', 'id'), (SELECT max(id) FROM issues)),
       setval(pg_get_serial_sequence('issue_comments', 'id'), (SELECT max(id) FROM issue_comments)),
       setval(pg_get_serial_sequence('issue_events', 'id'), (SELECT max(id) FROM issue_events));

DROP TABLE tmp_subject, tmp_topic, tmp_team_agents, tmp_article_text;

RESET work_mem;

ANALYZE;
