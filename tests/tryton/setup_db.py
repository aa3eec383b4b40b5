#!/usr/bin/env python3
"""Builds a small, deterministic Tryton 8.2 database for tests/tryton_real.rs.

    setup_db.py DIR --as-of YYYY-MM-DD [--database NAME] [--password PASS]

DIR is an empty folder. The script writes DIR/setup.conf (SQLite, files in DIR), creates the
database NAME (DIR/NAME.sqlite) with trytond-admin, activates the modules, then fills it with
proteus in direct mode (no server). All business dates are relative to --as-of, never to the
clock, so aging buckets computed on that date are known in advance:

* company "Tributary Test Trading" in CNY (EUR exists too, with a rate);
* a fiscal year with monthly periods and invoice sequences, a minimal chart of accounts;
* a 30-day payment term;
* party A (code TT-A) with a Chinese USCC tax identifier and an address in CN with a postal code,
  party B (code TT-B) with an address only;
* a product with a list price and 100 units in the warehouse storage (an inventory);
* sale 1 for A, invoiced on order, shipped: its customer invoice is dated as-of − 45 days
  (due as-of − 15 days) and posted, then paid in part on as-of − 10 days;
* sale 2 for A, invoice method manual, confirmed: an open order with no invoice;
* sale 3 for B, confirmed with invoice method manual as well (an open order for B).

The last line on stdout is one JSON object with ids and the figures a client should see.
Everything else (progress) goes to stderr.
"""

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal

MODULES = ['party', 'company', 'currency', 'product', 'stock', 'account',
    'account_invoice', 'sale']


def log(*args):
    print('setup_db:', *args, file=sys.stderr, flush=True)


def admin(conf, database, password_file, *args):
    """Runs trytond-admin from the same virtual environment as this Python."""
    exe = os.path.join(os.path.dirname(sys.executable), 'trytond-admin')
    env = dict(os.environ, TRYTONPASSFILE=password_file)
    cmd = [exe, '-c', conf, '-d', database, *args]
    log(' '.join(cmd))
    subprocess.run(cmd, env=env, check=True, stdout=sys.stderr)


def month_start(day):
    return day.replace(day=1)


def add_months(day, months):
    y, m = divmod(day.month - 1 + months, 12)
    return dt.date(day.year + y, m + 1, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('dir')
    parser.add_argument('--as-of', required=True,
        type=dt.date.fromisoformat)
    parser.add_argument('--database', default='tributary')
    parser.add_argument('--password', default='admin')
    args = parser.parse_args()
    as_of = args.as_of
    folder = os.path.abspath(args.dir)
    os.makedirs(folder, exist_ok=True)

    conf = os.path.join(folder, 'setup.conf')
    with open(conf, 'w') as f:
        f.write(f'[database]\nuri = sqlite://\npath = {folder}\n')
    db_file = os.path.join(folder, args.database + '.sqlite')
    if os.path.exists(db_file):
        sys.exit(f'setup_db: {db_file} exists; give a fresh folder')
    open(db_file, 'w').close()  # trytond's SQLite backend opens, never creates
    password_file = os.path.join(folder, 'admin.pass')
    with open(password_file, 'w') as f:
        f.write(args.password + '\n')

    admin(conf, args.database, password_file, '--all',
        '--email', 'admin@example.com')
    admin(conf, args.database, password_file, '-u', *MODULES,
        '--activate-dependencies')

    from proteus import config as pconfig
    cfg = pconfig.set_trytond(args.database, config_file=conf)
    cfg.skip_warning = True  # e.g. a payment date in the past, which is wanted here
    summary = fill(cfg, as_of)
    summary['database'] = args.database
    summary['db_file'] = db_file
    print(json.dumps(summary, sort_keys=True))


def fill(cfg, as_of):
    from proteus import Model, Wizard

    Currency = Model.get('currency.currency')
    Rate = Model.get('currency.currency.rate')
    Country = Model.get('country.country')
    Party = Model.get('party.party')
    User = Model.get('res.user')

    # Currencies: CNY is the company's, EUR a second one with a rate (1 CNY = 0.128 EUR).
    cny = Currency(name='Chinese Yuan', code='CNY', symbol='¥',
        rounding=Decimal('0.01'))
    cny.save()
    Rate(currency=cny, date=dt.date(2000, 1, 1), rate=Decimal('1')).save()
    eur = Currency(name='Euro', code='EUR', symbol='€',
        rounding=Decimal('0.01'))
    eur.save()
    Rate(currency=eur, date=dt.date(2000, 1, 1),
        rate=Decimal('0.128205')).save()

    china = Country(name='China', code='CN', code3='CHN', code_numeric='156')
    china.save()
    Subdivision = Model.get('country.subdivision')
    guangdong = Subdivision(country=china, name='Guangdong', code='CN-GD',
        type='province')
    guangdong.save()

    # Company (the company.company.config wizard), then reload the user's context.
    log('company')
    company_party = Party(name='Tributary Test Trading')
    company_party.save()
    wizard = Wizard('company.company.config')
    wizard.execute('company')
    wizard.form.party = company_party
    wizard.form.currency = cny
    wizard.execute('add')
    Company = Model.get('company.company')
    company, = Company.find()
    cfg._context = User.get_preferences(True, {})

    # Fiscal year covering the as-of date and the real today (the server stamps some moves
    # with today), in monthly periods, with one strict sequence for moves and one for invoices.
    log('fiscal year')
    today = dt.date.today()
    start = add_months(month_start(min(as_of, today)), -6)
    end = add_months(month_start(max(as_of, today)), 7) - dt.timedelta(days=1)
    SeqType = Model.get('ir.sequence.type')
    StrictSeq = Model.get('ir.sequence.strict')
    FiscalYear = Model.get('account.fiscalyear')
    move_type, = SeqType.find([('name', '=', 'Account Move')], limit=1)
    invoice_type, = SeqType.find([('name', '=', 'Invoice')], limit=1)
    move_seq = StrictSeq(name='Moves', sequence_type=move_type, company=company)
    move_seq.save()
    invoice_seq = StrictSeq(name='Invoices', sequence_type=invoice_type,
        company=company, prefix='INV/')
    invoice_seq.save()
    year = FiscalYear(name=f'FY {start} – {end}', start_date=start,
        end_date=end, company=company, move_sequence=move_seq)
    seqs, = year.invoice_sequences
    seqs.out_invoice_sequence = invoice_seq
    seqs.in_invoice_sequence = invoice_seq
    seqs.out_credit_note_sequence = invoice_seq
    seqs.in_credit_note_sequence = invoice_seq
    year.save()
    year.click('create_period')

    # Chart of accounts from the minimal template, and the default receivable/revenue.
    log('chart of accounts')
    ModelData = Model.get('ir.model.data')
    Template = Model.get('account.account.template')
    Account = Model.get('account.account')
    root = Template(ModelData.get_id('account.account_template_root_en',
            cfg.context))
    chart = Wizard('account.create_chart')
    chart.execute('account')
    chart.form.account_template = root
    chart.form.company = company
    chart.execute('create_account')

    def one_account(kind):
        found, = Account.find([(f'type.{kind}', '=', True),
                ('company', '=', company.id), ('closed', '!=', True)], limit=1)
        return found
    receivable = one_account('receivable')
    payable = one_account('payable')
    revenue = one_account('revenue')
    expense = one_account('expense')
    cash, = Account.find([('company', '=', company.id), ('code', '=', '1.1.1')],
        limit=1)
    chart.form.account_receivable = receivable
    chart.form.account_payable = payable
    if hasattr(chart.form, 'category_account_revenue'):
        chart.form.category_account_revenue = revenue
    if hasattr(chart.form, 'category_account_expense'):
        chart.form.category_account_expense = expense
    chart.execute('create_properties')

    Journal = Model.get('account.journal')
    PayMethod = Model.get('account.invoice.payment.method')
    cash_journal, = Journal.find([('type', '=', 'cash')])
    pay_method = PayMethod(name='Bank', journal=cash_journal,
        credit_account=cash, debit_account=cash)
    pay_method.save()

    log('payment term, parties, product')
    Term = Model.get('account.invoice.payment_term')
    term = Term(name='30 days net')
    line = term.lines.new(type='remainder')
    line.relativedeltas.new(days=30, months=0)
    term.save()

    # Tryton files a USCC under the type cn_vat; list it among the allowed types.
    PartyConfig = Model.get('party.configuration')
    party_config = PartyConfig(1)
    party_config.identifier_types = ['cn_vat', 'eu_vat']
    party_config.save()

    party_a = Party(name='Feiyue Technology Co., Ltd.', code='TT-A')
    party_a.identifiers.new(type='cn_vat', code='91350100M000100Y43')
    addr = party_a.addresses[0] if party_a.addresses else party_a.addresses.new()
    addr.street = '88 Keji Road'
    addr.postal_code = '518000'
    addr.city = 'Shenzhen'
    addr.country = china
    addr.subdivision = guangdong
    party_a.contact_mechanisms.new(type='email', value='buyer@feiyue.example')
    party_a.contact_mechanisms.new(type='mobile', value='+86 139 2874 5501')
    # Tryton guesses the type from the value: a website without its scheme becomes a phone type.
    party_a.contact_mechanisms.new(type='website', value='https://www.feiyue.example')
    party_a.customer_payment_term = term
    party_a.save()

    party_b = Party(name='Haitang Trading', code='TT-B')
    addr = party_b.addresses[0] if party_b.addresses else party_b.addresses.new()
    addr.street = '5 Binjiang Avenue'
    addr.postal_code = '310000'
    addr.city = 'Hangzhou'
    addr.country = china
    party_b.contact_mechanisms.new(type='phone', value='+86 571 8765 4321')
    party_b.customer_payment_term = term
    party_b.save()

    Category = Model.get('product.category')
    category = Category(name='Goods', accounting=True,
        account_revenue=revenue, account_expense=expense)
    category.save()
    Uom = Model.get('product.uom')
    unit, = Uom.find([('name', '=', 'Unit')])
    ProductTemplate = Model.get('product.template')
    tmpl = ProductTemplate(name='Widget', type='goods', salable=True,
        default_uom=unit, sale_uom=unit, list_price=Decimal('250'),
        account_category=category, code='WID-1')
    tmpl.save()
    product, = tmpl.products

    log('inventory')
    Location = Model.get('stock.location')
    Inventory = Model.get('stock.inventory')
    warehouse, = Location.find([('type', '=', 'warehouse')], limit=1)
    storage, = Location.find([('code', '=', 'STO')], limit=1)
    inventory = Inventory(location=storage, date=as_of - dt.timedelta(days=60))
    inv_line = inventory.lines.new(product=product)
    inv_line.quantity = 100.0
    inventory.click('confirm')
    assert inventory.state == 'done', inventory.state

    Sale = Model.get('sale.sale')

    def sale(party, qty, method, date):
        s = Sale(party=party, payment_term=term, invoice_method=method,
            sale_date=date, currency=cny)
        line = s.lines.new()
        line.product = product
        line.quantity = qty
        line.unit_price = Decimal('250.00')
        s.click('quote')
        s.click('confirm')
        s.reload()
        return s

    log('sales and the invoice')
    invoice_date = as_of - dt.timedelta(days=45)
    sale1 = sale(party_a, 4.0, 'order', invoice_date)
    invoice, = sale1.invoices
    invoice.invoice_date = invoice_date
    invoice.accounting_date = invoice_date
    invoice.save()
    invoice.click('post')
    invoice.reload()
    assert invoice.state == 'posted', invoice.state
    paid = Decimal('300.00')
    pay = invoice.click('pay')
    pay.form.amount = paid
    pay.form.payment_method = pay_method
    pay.form.date = as_of - dt.timedelta(days=10)
    pay.execute('choice')
    if pay.state != 'end':
        # Less than the one line to pay: keep the rest open (no write-off).
        pay.form.type = 'partial'
        pay.execute('pay')
    invoice.reload()
    assert invoice.amount_to_pay == invoice.total_amount - paid, (
        invoice.amount_to_pay)

    sale2 = sale(party_a, 2.0, 'manual', as_of - dt.timedelta(days=5))
    sale3 = sale(party_b, 1.0, 'manual', as_of - dt.timedelta(days=3))
    assert not sale2.invoices and not sale3.invoices

    # Ship sale 1 so the stock figure moves too (100 − 4 = 96 on hand).
    for shipment in sale1.shipments:
        shipment.effective_date = invoice_date
        shipment.save()
        shipment.click('assign_try')
        shipment.click('pick')
        shipment.click('pack')
        shipment.click('do')
    sale1.reload()

    def money(value):
        return str(Decimal(value).quantize(Decimal('0.01')))

    due = invoice.lines_to_pay[0].maturity_date
    return {
        'as_of': as_of.isoformat(),
        'company_currency': 'CNY',
        'company_party_id': company_party.id,
        'parties': {
            'A': {'id': party_a.id, 'code': party_a.code, 'name': party_a.name,
                'tax_identifier': '91350100M000100Y43', 'country': 'CN',
                'postal_code': '518000', 'region': 'Guangdong',
                'mobile': '+86 139 2874 5501', 'website': 'https://www.feiyue.example'},
            'B': {'id': party_b.id, 'code': party_b.code, 'name': party_b.name,
                'country': 'CN', 'postal_code': '310000',
                'phone': '+86 571 8765 4321'},
            },
        'product': {'id': product.id, 'code': product.code,
            'list_price': money(tmpl.list_price),
            'warehouse_id': warehouse.id, 'storage_id': storage.id,
            'on_hand': 96},
        'invoice': {'id': invoice.id, 'number': invoice.number,
            'party_id': party_a.id, 'state': invoice.state,
            'invoice_date': invoice.invoice_date.isoformat(),
            'due_date': due.isoformat(),
            'payment_term_date': (invoice.payment_term_date.isoformat()
                if invoice.payment_term_date else None),
            'total_amount': money(invoice.total_amount),
            'paid': money(paid),
            'amount_to_pay': money(invoice.amount_to_pay),
            'days_overdue_at_as_of': (as_of - due).days},
        'sales': {
            'invoiced': {'id': sale1.id, 'number': sale1.number,
                'party_id': party_a.id, 'state': sale1.state,
                'invoice_state': sale1.invoice_state,
                'total_amount': money(sale1.total_amount)},
            'open_a': {'id': sale2.id, 'number': sale2.number,
                'party_id': party_a.id, 'state': sale2.state,
                'invoice_state': sale2.invoice_state,
                'total_amount': money(sale2.total_amount)},
            'open_b': {'id': sale3.id, 'number': sale3.number,
                'party_id': party_b.id, 'state': sale3.state,
                'invoice_state': sale3.invoice_state,
                'total_amount': money(sale3.total_amount)},
            },
        'expected': {
            'A': {'open_receivables': money(invoice.amount_to_pay),
                'open_orders': money(sale2.total_amount),
                'aging_d1_30': money(invoice.amount_to_pay)},
            'B': {'open_receivables': '0.00',
                'open_orders': money(sale3.total_amount)},
            },
        }


if __name__ == '__main__':
    main()
